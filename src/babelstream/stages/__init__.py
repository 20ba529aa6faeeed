"""Pipeline stages: each consumes one topic and produces the next. Engines sit behind small interfaces."""
