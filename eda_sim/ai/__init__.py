"""The AI side of the course: small online models learned from event streams, and seeded data generators."""
