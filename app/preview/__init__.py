"""Authoring in the trainer's own editor: the preview server that reloads on save, and the
git pre-commit hook that runs the checker."""
