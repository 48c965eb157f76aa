"""Call caching with Cromwell's semantics: hashing, file identity, docker digests,
duplication of cached outputs, options, and the lookup/record service."""
