"""anthropic-usage-lake: Anthropic Admin API usage and cost reports into an S3 + Athena lake."""

__version__ = "0.1.0"
