"""What every layer may use: errors, range checks, clocks, text scanning, secret masking."""
