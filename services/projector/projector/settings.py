from shared.settings import Settings


class ProjectorSettings(Settings):
    pass
