-- Upload $2 of domain $1, whether or not it has expired.
SELECT length, received, metadata, expires_at, expires_at < now() AND received < length AS expired
  FROM uploads WHERE domain_id = $1 AND id = $2
