"""Outreach's common library: settings, logging, Postgres and RabbitMQ plumbing, event contracts."""
