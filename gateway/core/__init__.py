"""The pure core: tariffs, rating and exact money.

Standard library only. No I/O, no clock (time is always passed in), no ORM. Everything that
decides how much a customer pays lives here, so it is small, typed and tested hardest.
"""
