"""The paper's three training studies (frozen vs unfrozen tower, label noise, spatial-data share) with seeds and
intervals: ``data`` renders the datasets, ``runner`` trains and scores the points, ``stats`` computes the
intervals, ``report`` writes the markdown reports and plots. CLI: ``python -m evals.train_studies``."""
