"""KetaFlow: software that runs a ketamine infusion clinic."""

__version__ = "0.1.0"
