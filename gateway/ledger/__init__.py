"""The prepaid ledger: readings in, transparent deductions out, exactly once."""
