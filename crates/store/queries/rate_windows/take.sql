-- Counts one request against counter $1: a window opens at its first request and lasts 60 s.
-- Every request counts (one past the limit is refused by the caller); answers the count in the
-- window and the window's end and the time now, both in epoch milliseconds.
INSERT INTO rate_windows AS w (key, window_end, used)
VALUES ($1, clock_timestamp() + interval '60 seconds', 1)
ON CONFLICT (key) DO UPDATE SET
    window_end = CASE WHEN w.window_end <= clock_timestamp()
                      THEN clock_timestamp() + interval '60 seconds'
                      ELSE w.window_end END,
    used = CASE WHEN w.window_end <= clock_timestamp() THEN 1
                ELSE least(w.used, 2147483646) + 1 END
RETURNING used,
          (extract(epoch FROM window_end) * 1000)::int8 AS window_end_ms,
          (extract(epoch FROM clock_timestamp()) * 1000)::int8 AS now_ms
