"""Stages of run_all, one module each; every module defines STAGE."""
