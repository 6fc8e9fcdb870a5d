-- Rate limits are leased: a process takes a batch of a window's requests at once and spends
-- them in memory. `granted` is what the last lease of a counter got (0: the window is spent).
ALTER TABLE rate_windows ADD COLUMN granted INTEGER NOT NULL DEFAULT 0;
