-- The statement that drops database $1, closing its connections (%I quotes the name).
SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', $1::text)
