"""fairque's terminal UI (Textual): ``fairque-tui connect`` and ``fairque-tui demo``.

The core package never imports this one (an import-linter contract keeps it so)."""
