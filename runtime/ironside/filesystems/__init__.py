"""File systems the engine reads and writes through: ``local`` paths and ``s3://`` URIs."""
