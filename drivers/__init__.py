"""Chip targets behind one protocol: emulator, serial board, virtual board; VISA instruments."""
