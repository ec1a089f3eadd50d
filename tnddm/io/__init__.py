"""Model cards (TOML), sample files (.npz / HDF5) and atomic file writes."""
from .cards import CARD_SCHEMA, CARD_TABLES, NOISE_SCHEMA, check_card, default_card, load_card, parse_override
from .checkpoint import load_checkpoint, load_model, save_checkpoint, save_model
from .files import atomic_write, check_input_file, check_output_path, load_samples, npz_members, save_samples

__all__ = ["CARD_TABLES", "CARD_SCHEMA", "NOISE_SCHEMA", "check_card", "default_card", "load_card", "parse_override",
           "atomic_write", "check_output_path", "check_input_file", "npz_members", "save_samples", "load_samples",
           "save_checkpoint", "load_checkpoint", "save_model", "load_model"]
