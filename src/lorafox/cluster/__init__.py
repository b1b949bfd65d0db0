"""Running several lorafox instances on one PostgreSQL database."""
