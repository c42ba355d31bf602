"""The test harness: real PostgreSQL, RabbitMQ and an SES emulator, fresh per run."""
