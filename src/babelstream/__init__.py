"""babelstream: self-hosted real-time speech translation.

Data flows one way: contracts -> bus -> gateway and stages -> engines -> back to the gateway.
"""

__version__ = "0.1.0"
