"""asn-kompetensi: training."""
