"""Placeholder: filled in by issue 4 (the module registers its handlers on import)."""
