"""Training, evaluation and checkpoints. ``train(cfg)`` runs single-process or under torchrun (DDP);
``evaluate_path(checkpoint)`` scores a run; both are what ``hotpose train`` / ``hotpose evaluate`` call."""
from hotpose.engine.config import Config, ConfigError, load_config
from hotpose.engine.evaluate import evaluate_path, format_table, score_sequences, summarize
from hotpose.engine.train import train

__all__ = ["Config", "ConfigError", "evaluate_path", "format_table", "load_config", "score_sequences", "summarize",
           "train"]
