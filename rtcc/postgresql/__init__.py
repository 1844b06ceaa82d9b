"""rtcc's PostgreSQL database backend: Django's, with the connection pool's cheaper check."""
