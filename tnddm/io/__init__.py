"""Model cards (TOML), sample files (.npz / HDF5) and atomic file writes."""
from .cards import CARD_TABLES, default_card, load_card, parse_override
from .checkpoint import load_checkpoint, load_model, save_checkpoint, save_model
from .files import atomic_write, load_samples, save_samples

__all__ = ["CARD_TABLES", "default_card", "load_card", "parse_override", "atomic_write", "save_samples", "load_samples",
           "save_checkpoint", "load_checkpoint", "save_model", "load_model"]
