-- Creates the domain $1 unless it exists.
INSERT INTO domains (name) VALUES ($1) ON CONFLICT (name) DO NOTHING
