from shared.settings import Settings


class UnsubscribeSettings(Settings):
    pass
