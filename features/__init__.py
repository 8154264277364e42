"""asn-kompetensi: features."""
