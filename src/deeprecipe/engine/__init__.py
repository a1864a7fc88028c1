"""The network engine: layers, losses, initializers, penalties, Sequential, gradient checking.

Imports only the base modules (errors, _io, _validation, _random, _typing): nothing above it.
"""
