"""The competencies of the synthetic export (PermenPAN-RB 38/2017): the nine core ones, then technical ones
per job family (part of the generator's fixed catalogue, `features.generator.catalogue`)."""

from __future__ import annotations

from features.constants import MANAGERIAL_COMPETENCIES, SOCIO_CULTURAL_COMPETENCIES

CORE_IDS = tuple(f"MNJ-0{i}" for i in range(1, 9)) + ("SK-01",)
CORE_NAMES = MANAGERIAL_COMPETENCIES + SOCIO_CULTURAL_COMPETENCIES
# Attractor offsets per core competency: integrity and national cohesion are rated higher in practice,
# managing change and decision making lower.
CORE_OFFSETS = (0.15, 0.10, 0.0, 0.0, 0.05, -0.10, -0.15, -0.10, 0.20)
# Correlated clusters of competencies (one latent factor each): 0 interpersonal, 1 leadership, 2 technical.
CORE_CLUSTERS = (0, 0, 0, 1, 0, 1, 1, 1, 0)

TECHNICAL: tuple[tuple[str, str], ...] = (
    ("TKN-ADM", "Administrasi Perkantoran dan Kearsipan"),
    ("TKN-SDM", "Manajemen Sumber Daya Manusia Aparatur"),
    ("TKN-KEU", "Pengelolaan Keuangan Daerah"),
    ("TKN-AKT", "Akuntansi Pemerintahan"),
    ("TKN-PAD", "Pengelolaan Pajak dan Retribusi Daerah"),
    ("TKN-PBJ", "Pengadaan Barang/Jasa Pemerintah"),
    ("TKN-REN", "Perencanaan Pembangunan Daerah"),
    ("TKN-MNV", "Monitoring dan Evaluasi Pembangunan"),
    ("TKN-AUD", "Audit dan Pengawasan Intern Pemerintah"),
    ("TKN-HKM", "Penyusunan Produk Hukum Daerah"),
    ("TKN-TIK", "Tata Kelola Teknologi Informasi (SPBE)"),
    ("TKN-KAM", "Keamanan Informasi"),
    ("TKN-DAT", "Pengelolaan Data dan Statistik Sektoral"),
    ("TKN-HUM", "Komunikasi Publik dan Kehumasan"),
    ("TKN-PED", "Pembelajaran dan Pedagogik"),
    ("TKN-KUR", "Pengembangan Kurikulum"),
    ("TKN-ASM", "Asesmen Pembelajaran"),
    ("TKN-MPS", "Manajemen dan Supervisi Pendidikan"),
    ("TKN-MED", "Pelayanan Medis"),
    ("TKN-KEP", "Asuhan Keperawatan"),
    ("TKN-BID", "Pelayanan Kebidanan"),
    ("TKN-GAD", "Kegawatdaruratan Medis"),
    ("TKN-FAR", "Pelayanan Kefarmasian"),
    ("TKN-KMS", "Kesehatan Masyarakat dan Surveilans"),
    ("TKN-PNJ", "Pelayanan Penunjang Medis (Laboratorium dan Radiologi)"),
    ("TKN-RMK", "Rekam Medis dan Informasi Kesehatan"),
    ("TKN-KON", "Perencanaan dan Pengawasan Konstruksi"),
    ("TKN-RUA", "Penataan Ruang"),
    ("TKN-LLA", "Manajemen Lalu Lintas dan Angkutan"),
    ("TKN-LHK", "Pengelolaan Lingkungan Hidup dan Persampahan"),
    ("TKN-SOS", "Penyelenggaraan Kesejahteraan Sosial"),
    ("TKN-PPA", "Pemberdayaan Perempuan dan Perlindungan Anak"),
    ("TKN-DUK", "Administrasi Kependudukan dan Pencatatan Sipil"),
    ("TKN-IZN", "Pelayanan Perizinan Berusaha Terpadu"),
    ("TKN-PEM", "Penyelenggaraan Pemerintahan dan Pemberdayaan Masyarakat"),
    ("TKN-TRB", "Ketenteraman, Ketertiban Umum dan Penegakan Perda"),
    ("TKN-BEN", "Penanggulangan Bencana"),
    ("TKN-EKO", "Pengembangan UMKM dan Perdagangan"),
    ("TKN-PGN", "Ketahanan Pangan dan Pertanian"),
    ("TKN-PAR", "Pengembangan Pariwisata, Kepemudaan dan Olahraga"),
)


def competency_rows() -> list[tuple[str, str, str]]:
    """(competency_id, name, kind) for every competency, core first."""
    rows = [(cid, name, "manajerial") for cid, name in zip(CORE_IDS[:8], MANAGERIAL_COMPETENCIES, strict=True)]
    rows.append((CORE_IDS[8], SOCIO_CULTURAL_COMPETENCIES[0], "sosial_kultural"))
    rows += [(cid, name, "teknis") for cid, name in TECHNICAL]
    return rows
