-- Leases requests of counter $1, whose limit is $2, for one process to spend: a window opens at
-- its first lease and lasts 60 s; `used` counts every request leased in it. A lease gets a
-- sixteenth of what remains, at least 1 and at most $3, and never more than remains (0 when the
-- window is spent). Answers the lease, the count leased in the window, the window's end and the
-- time now (both in epoch milliseconds).
INSERT INTO rate_windows AS w (key, window_end, used, granted)
VALUES ($1, clock_timestamp() + interval '60 seconds',
        least($2, greatest(1, least($3, $2 / 16))),
        least($2, greatest(1, least($3, $2 / 16))))
ON CONFLICT (key) DO UPDATE SET
    window_end = CASE WHEN w.window_end <= clock_timestamp()
                      THEN clock_timestamp() + interval '60 seconds'
                      ELSE w.window_end END,
    granted = CASE WHEN w.window_end <= clock_timestamp()
                   THEN least($2, greatest(1, least($3, $2 / 16)))
                   ELSE least(greatest($2 - w.used, 0),
                              greatest(1, least($3, greatest($2 - w.used, 0) / 16))) END,
    used = CASE WHEN w.window_end <= clock_timestamp()
                THEN least($2, greatest(1, least($3, $2 / 16)))
                ELSE w.used + least(greatest($2 - w.used, 0),
                                    greatest(1, least($3, greatest($2 - w.used, 0) / 16))) END
RETURNING granted,
          used,
          (extract(epoch FROM window_end) * 1000)::int8 AS window_end_ms,
          (extract(epoch FROM clock_timestamp()) * 1000)::int8 AS now_ms
