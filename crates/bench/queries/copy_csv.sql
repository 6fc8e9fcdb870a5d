-- The COPY of a baseline: {table} and {columns} are replaced by the caller.
COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)
