"""Commissioning: is this meter wired, addressed and mapped right?"""
