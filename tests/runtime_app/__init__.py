"""Tests of the running gateway: configuration, scheduler, and a real run as a process."""
