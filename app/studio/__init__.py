"""The studio: trainers write, preview, publish and restore modules in the browser."""
