"""The admin's page and API: people, partner API keys and webhooks, need categories, the audit."""
