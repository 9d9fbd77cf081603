"""Downloadable PDFs: modules, the whole course, quiz worksheets and certificates."""
