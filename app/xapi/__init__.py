"""xAPI 1.0.3: conformant statements, the statements API under /xapi/, forwarding to an LRS."""
