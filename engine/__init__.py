"""The model engine: a bundle and a store snapshot in; gaps, recommendations, what-if, unit summaries,
plans and batch scores out. It sits on `features` and below both `training` (which fits what it runs)
and `serving` (which answers with it); it imports neither."""
