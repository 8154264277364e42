"""Fixed catalogues of the synthetic Kota Pontianak export: units, positions and their SKJ.

Nothing here is random: the catalogue is the same for every seed, only its size (schools) follows the
number of employees. Counts of posts are given for the reference size of 6,000 active employees and are
scaled by `features.generator.population`. The competencies are in `features.generator.competencies`, the
trainings in `features.generator.trainings`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from features.generator.competencies import CORE_IDS

REFERENCE_EMPLOYEES = 6000


# ---------------------------------------------------------------------------------------------------------
# Sectors: the job family of a unit's structural and pelaksana posts, with their technical competencies.
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sector:
    code: str
    job_family: str
    technical: tuple[str, ...]
    administrator: str  # title of the sector's administrator post (kepala bidang / bagian)
    pengawas: str  # title of its pengawas post (kepala seksi / subbagian / subbidang)
    pelaksana: tuple[str, str]  # two pelaksana titles: the first for lower, the second for higher education


SECTORS: dict[str, Sector] = {s.code: s for s in (
    Sector("UMUM", "administrasi", ("TKN-ADM",), "Kepala Bagian Umum",
           "Kepala Subbagian Tata Usaha", ("Pengadministrasi Perkantoran", "Penata Layanan Operasional")),
    Sector("ORG", "administrasi", ("TKN-ADM", "TKN-SDM"), "Kepala Bagian Organisasi",
           "Kepala Subbagian Kelembagaan dan Analisis Jabatan",
           ("Pengadministrasi Ketatalaksanaan", "Penelaah Teknis Kebijakan Organisasi")),
    Sector("SDM", "kepegawaian", ("TKN-SDM", "TKN-ADM"), "Kepala Bidang Pengembangan Kompetensi Aparatur",
           "Kepala Subbidang Mutasi dan Promosi", ("Pengolah Data Kepegawaian", "Penelaah Teknis Kepegawaian")),
    Sector("KEU", "keuangan", ("TKN-KEU", "TKN-AKT"), "Kepala Bidang Perbendaharaan dan Akuntansi",
           "Kepala Subbidang Akuntansi dan Pelaporan", ("Pengadministrasi Keuangan", "Penata Kelola Keuangan")),
    Sector("PAD", "keuangan", ("TKN-PAD", "TKN-KEU"), "Kepala Bidang Pajak Daerah",
           "Kepala Subbidang Penagihan dan Keberatan", ("Petugas Pelayanan Pajak Daerah", "Pengelola Pajak dan Retribusi")),
    Sector("REN", "perencanaan", ("TKN-REN", "TKN-MNV"), "Kepala Bidang Perencanaan dan Evaluasi Pembangunan",
           "Kepala Subbidang Pengendalian dan Evaluasi", ("Pengolah Data Perencanaan", "Penelaah Teknis Perencanaan")),
    Sector("WAS", "pengawasan", ("TKN-AUD",), "Inspektur Pembantu Wilayah",
           "Kepala Subbagian Evaluasi dan Pelaporan", ("Pengadministrasi Pengawasan", "Penelaah Hasil Pengawasan")),
    Sector("HKM", "hukum", ("TKN-HKM",), "Kepala Bagian Hukum", "Kepala Subbagian Perundang-undangan",
           ("Pengadministrasi Hukum", "Penelaah Produk Hukum")),
    Sector("PBJ", "pengadaan", ("TKN-PBJ",), "Kepala Bagian Pengadaan Barang dan Jasa",
           "Kepala Subbagian Pengelolaan Layanan Pengadaan", ("Pengadministrasi Pengadaan", "Pengelola Layanan Pengadaan")),
    Sector("TIK", "teknologi_informasi", ("TKN-TIK", "TKN-KAM", "TKN-DAT"), "Kepala Bidang Aplikasi Informatika",
           "Kepala Seksi Infrastruktur dan Keamanan Informasi", ("Operator Jaringan Komunikasi", "Pengelola Sistem Informasi")),
    Sector("HUM", "teknologi_informasi", ("TKN-HUM",), "Kepala Bagian Protokol dan Komunikasi Pimpinan",
           "Kepala Subbagian Dokumentasi Pimpinan", ("Pengadministrasi Protokol", "Pengelola Publikasi")),
    Sector("PDK", "pendidikan", ("TKN-MPS", "TKN-KUR"), "Kepala Bidang Pembinaan Sekolah Dasar",
           "Kepala Seksi Kurikulum dan Penilaian", ("Pengadministrasi Sekolah", "Pengelola Data Pendidikan")),
    Sector("KES", "kesehatan", ("TKN-KMS", "TKN-MED"), "Kepala Bidang Pelayanan Kesehatan",
           "Kepala Seksi Pelayanan Kesehatan Primer", ("Pengadministrasi Layanan Kesehatan", "Pengelola Data Kesehatan")),
    Sector("RS", "kesehatan", ("TKN-MED", "TKN-KEP"), "Kepala Bidang Pelayanan Medik dan Keperawatan",
           "Kepala Seksi Pelayanan Keperawatan", ("Pengadministrasi Layanan Rumah Sakit", "Pengelola Layanan Pasien")),
    Sector("TEK", "teknik", ("TKN-KON", "TKN-RUA"), "Kepala Bidang Bina Marga",
           "Kepala Seksi Pembangunan Jalan dan Jembatan", ("Teknisi Sarana dan Prasarana", "Pengawas Lapangan Pekerjaan Umum")),
    Sector("KIM", "teknik", ("TKN-KON",), "Kepala Bidang Kawasan Permukiman",
           "Kepala Seksi Perumahan dan Prasarana", ("Teknisi Permukiman", "Pengelola Data Kawasan Permukiman")),
    Sector("HUB", "perhubungan", ("TKN-LLA",), "Kepala Bidang Lalu Lintas dan Angkutan",
           "Kepala Seksi Manajemen dan Rekayasa Lalu Lintas", ("Petugas Pengatur Lalu Lintas", "Pengelola Angkutan")),
    Sector("LH", "lingkungan", ("TKN-LHK",), "Kepala Bidang Pengelolaan Sampah dan Limbah B3",
           "Kepala Seksi Pengendalian Pencemaran", ("Petugas Kebersihan", "Pengawas Kebersihan Lingkungan")),
    Sector("SOS", "sosial", ("TKN-SOS",), "Kepala Bidang Perlindungan dan Jaminan Sosial",
           "Kepala Seksi Rehabilitasi Sosial", ("Pengadministrasi Layanan Sosial", "Pengelola Data Kesejahteraan Sosial")),
    Sector("PPA", "sosial", ("TKN-PPA", "TKN-SOS"), "Kepala Bidang Perlindungan Perempuan dan Anak",
           "Kepala Seksi Pengendalian Penduduk", ("Pengadministrasi Layanan Perlindungan", "Pendamping Keluarga")),
    Sector("DUK", "kependudukan", ("TKN-DUK", "TKN-DAT"), "Kepala Bidang Pelayanan Pendaftaran Penduduk",
           "Kepala Seksi Identitas Penduduk", ("Operator Layanan Kependudukan", "Pengolah Data Kependudukan")),
    Sector("IZN", "pelayanan_publik", ("TKN-IZN",), "Kepala Bidang Pelayanan Perizinan",
           "Kepala Seksi Pelayanan Perizinan Berusaha", ("Petugas Layanan Perizinan", "Verifikator Perizinan")),
    Sector("PEM", "pemerintahan", ("TKN-PEM",), "Kepala Bagian Pemerintahan",
           "Kepala Seksi Pemerintahan dan Pelayanan Umum", ("Pengadministrasi Pemerintahan", "Pengelola Layanan Masyarakat")),
    Sector("KSB", "pemerintahan", ("TKN-PEM",), "Kepala Bidang Ideologi dan Wawasan Kebangsaan",
           "Kepala Subbidang Ketahanan Ekonomi, Sosial dan Budaya", ("Pengadministrasi Kesatuan Bangsa", "Analis Politik Dalam Negeri")),
    Sector("TRB", "ketertiban", ("TKN-TRB",), "Kepala Bidang Penegakan Peraturan Daerah",
           "Kepala Seksi Operasi dan Pengendalian", ("Pengadministrasi Ketertiban", "Petugas Pengamanan")),
    Sector("BEN", "kebencanaan", ("TKN-BEN",), "Kepala Bidang Kedaruratan dan Logistik",
           "Kepala Seksi Pencegahan dan Kesiapsiagaan", ("Petugas Pusat Pengendalian Operasi", "Pengelola Logistik Kebencanaan")),
    Sector("EKO", "ekonomi", ("TKN-EKO",), "Kepala Bidang Usaha Mikro dan Perdagangan",
           "Kepala Seksi Pengembangan Usaha Mikro", ("Pengelola Pasar", "Pengolah Data Perdagangan")),
    Sector("PGN", "ekonomi", ("TKN-PGN",), "Kepala Bidang Ketahanan Pangan",
           "Kepala Seksi Produksi Pertanian dan Perikanan", ("Petugas Lapangan Pertanian", "Pengelola Ketahanan Pangan")),
    Sector("PAR", "pariwisata", ("TKN-PAR",), "Kepala Bidang Pariwisata",
           "Kepala Seksi Kepemudaan dan Olahraga", ("Pengadministrasi Kepemudaan dan Olahraga", "Pengelola Destinasi Wisata")),
    Sector("ARS", "administrasi", ("TKN-ADM",), "Kepala Bidang Pengelolaan Arsip",
           "Kepala Seksi Layanan Perpustakaan", ("Pengadministrasi Perpustakaan", "Pengelola Arsip")),
)}


# ---------------------------------------------------------------------------------------------------------
# Units: real OPDs of Kota Pontianak, RSUD, puskesmas, kecamatan with their 29 kelurahan, schools.
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Unit:
    unit_id: str
    name: str
    kind: str
    parent: str | None
    sector: str
    pelaksana: float  # expected pelaksana staff at the reference size
    posts: tuple[tuple[str, int], ...] = ()  # structural posts (position_id, count) held in this unit
    group: str = ""  # the top-level unit (OPD or kecamatan) it belongs to; "" = itself


# (code, name, kind, sector, kepala title, n kabid, n kasi, pelaksana, has a sekretaris)
_OPDS: tuple[tuple[str, str, str, str, str, int, int, float, bool], ...] = (
    ("SETWAN", "Sekretariat DPRD", "sekretariat", "UMUM", "Sekretaris DPRD", 3, 6, 40, False),
    ("INSPEKTORAT", "Inspektorat", "inspektorat", "WAS", "Inspektur", 4, 3, 14, True),
    ("BAPPEDA", "Badan Perencanaan Pembangunan Daerah", "badan", "REN", "Kepala Badan Perencanaan Pembangunan Daerah",
     4, 6, 26, True),
    ("BKPSDM", "Badan Kepegawaian dan Pengembangan Sumber Daya Manusia", "badan", "SDM",
     "Kepala Badan Kepegawaian dan Pengembangan Sumber Daya Manusia", 3, 6, 30, True),
    ("BPKAD", "Badan Pengelolaan Keuangan dan Aset Daerah", "badan", "KEU",
     "Kepala Badan Pengelolaan Keuangan dan Aset Daerah", 4, 8, 42, True),
    ("BAPENDA", "Badan Pendapatan Daerah", "badan", "PAD", "Kepala Badan Pendapatan Daerah", 3, 6, 40, True),
    ("KESBANGPOL", "Badan Kesatuan Bangsa dan Politik", "badan", "KSB", "Kepala Badan Kesatuan Bangsa dan Politik",
     2, 4, 12, True),
    ("BPBD", "Badan Penanggulangan Bencana Daerah", "badan", "BEN", "Kepala Pelaksana Badan Penanggulangan Bencana Daerah",
     3, 4, 22, True),
    ("DISDIKBUD", "Dinas Pendidikan dan Kebudayaan", "dinas", "PDK", "Kepala Dinas Pendidikan dan Kebudayaan",
     4, 8, 45, True),
    ("DINKES", "Dinas Kesehatan", "dinas", "KES", "Kepala Dinas Kesehatan", 4, 8, 30, True),
    ("PUPR", "Dinas Pekerjaan Umum dan Penataan Ruang", "dinas", "TEK", "Kepala Dinas Pekerjaan Umum dan Penataan Ruang",
     4, 8, 60, True),
    ("PERKIM", "Dinas Perumahan Rakyat dan Kawasan Permukiman", "dinas", "KIM",
     "Kepala Dinas Perumahan Rakyat dan Kawasan Permukiman", 3, 6, 26, True),
    ("DISHUB", "Dinas Perhubungan", "dinas", "HUB", "Kepala Dinas Perhubungan", 3, 6, 50, True),
    ("DLH", "Dinas Lingkungan Hidup", "dinas", "LH", "Kepala Dinas Lingkungan Hidup", 3, 6, 65, True),
    ("DINSOS", "Dinas Sosial", "dinas", "SOS", "Kepala Dinas Sosial", 2, 5, 22, True),
    ("DP2KBP3A", "Dinas Pengendalian Penduduk, Keluarga Berencana, Pemberdayaan Perempuan dan Perlindungan Anak",
     "dinas", "PPA", "Kepala Dinas Pengendalian Penduduk, KB, Pemberdayaan Perempuan dan Perlindungan Anak", 2, 5, 18, True),
    ("DISDUKCAPIL", "Dinas Kependudukan dan Pencatatan Sipil", "dinas", "DUK",
     "Kepala Dinas Kependudukan dan Pencatatan Sipil", 3, 6, 40, True),
    ("DPMPTSP", "Dinas Penanaman Modal, Tenaga Kerja dan Pelayanan Terpadu Satu Pintu", "dinas", "IZN",
     "Kepala Dinas Penanaman Modal, Tenaga Kerja dan Pelayanan Terpadu Satu Pintu", 3, 6, 30, True),
    ("DISKOMINFO", "Dinas Komunikasi dan Informatika", "dinas", "TIK", "Kepala Dinas Komunikasi dan Informatika",
     3, 6, 26, True),
    ("DISKUMDAG", "Dinas Koperasi, Usaha Mikro dan Perdagangan", "dinas", "EKO",
     "Kepala Dinas Koperasi, Usaha Mikro dan Perdagangan", 3, 6, 32, True),
    ("DPPP", "Dinas Pangan, Pertanian dan Perikanan", "dinas", "PGN", "Kepala Dinas Pangan, Pertanian dan Perikanan",
     3, 6, 26, True),
    ("DISPORAPAR", "Dinas Kepemudaan, Olahraga dan Pariwisata", "dinas", "PAR",
     "Kepala Dinas Kepemudaan, Olahraga dan Pariwisata", 3, 5, 22, True),
    ("DISPERPUSIP", "Dinas Perpustakaan dan Kearsipan", "dinas", "ARS", "Kepala Dinas Perpustakaan dan Kearsipan",
     2, 4, 18, True),
    ("SATPOLPP", "Satuan Polisi Pamong Praja", "satuan", "TRB", "Kepala Satuan Polisi Pamong Praja", 2, 5, 30, True),
)

# Sekretariat Daerah: the Sekda and the three Asisten and three Staf Ahli are JPT Pratama posts of the
# Setda itself; its bagian are administrator posts of several sectors.
_SETDA_JPT = (
    ("JPT-SEKDA", "Sekretaris Daerah", "UMUM"),
    ("JPT-ASISTEN-1", "Asisten Pemerintahan dan Kesejahteraan Rakyat", "PEM"),
    ("JPT-ASISTEN-2", "Asisten Perekonomian dan Pembangunan", "REN"),
    ("JPT-ASISTEN-3", "Asisten Administrasi Umum", "UMUM"),
    ("JPT-STAFAHLI-1", "Staf Ahli Wali Kota Bidang Hukum, Politik dan Pemerintahan", "HKM"),
    ("JPT-STAFAHLI-2", "Staf Ahli Wali Kota Bidang Ekonomi, Keuangan dan Pembangunan", "KEU"),
    ("JPT-STAFAHLI-3", "Staf Ahli Wali Kota Bidang Kemasyarakatan dan Sumber Daya Manusia", "SDM"),
)
_SETDA_BAGIAN = ("UMUM", "ORG", "HKM", "PBJ", "PEM", "HUM", "REN", "EKO", "SOS")

KECAMATAN: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("BARAT", "Pontianak Barat", ("Pal Lima", "Sungai Beliung", "Sungai Jawi Dalam", "Sungai Jawi Luar")),
    ("KOTA", "Pontianak Kota", ("Darat Sekip", "Mariana", "Sungai Bangkong", "Sungai Jawi", "Tengah")),
    ("SELATAN", "Pontianak Selatan", ("Akcaya", "Benua Melayu Darat", "Benua Melayu Laut", "Kota Baru",
                                      "Parit Tokaya")),
    ("TENGGARA", "Pontianak Tenggara", ("Bangka Belitung Darat", "Bangka Belitung Laut", "Bansir Darat",
                                        "Bansir Laut")),
    ("TIMUR", "Pontianak Timur", ("Banjar Serasan", "Dalam Bugis", "Parit Mayor", "Saigon", "Tambelan Sampit",
                                  "Tanjung Hilir", "Tanjung Hulu")),
    ("UTARA", "Pontianak Utara", ("Batu Layang", "Siantan Hilir", "Siantan Hulu", "Siantan Tengah")),
)

PUSKESMAS = (
    "Alianyang", "Kampung Bali", "Perumnas I", "Perumnas II", "Pal Tiga", "Pal Lima", "Gang Sehat",
    "Kampung Dalam", "Paris II", "Purnama", "Karya Mulia", "Kom Yos Sudarso", "Tanjung Hulu", "Saigon",
    "Banjar Serasan", "Parit Mayor", "Tambelan Sampit", "Siantan Hilir", "Siantan Tengah", "Siantan Hulu",
    "Khatulistiwa", "Telaga Biru", "Kampung Bangka",
)
REFERENCE_SD = 118  # SD Negeri at the reference size
REFERENCE_SMP = 29  # SMP Negeri at the reference size


def _slug(name: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "-", name.upper()).strip("-")


def build_units(n_sd: int, n_smp: int) -> list[Unit]:
    """Every unit, parents before children, with its structural posts at the reference size."""
    units: list[Unit] = []
    setda_posts = [(jid, 1) for jid, _, _ in _SETDA_JPT]
    setda_posts += [(f"ADM-{s}", 1) for s in _SETDA_BAGIAN]
    setda_posts += [(f"PGW-{s}", 2) for s in _SETDA_BAGIAN]
    units.append(Unit("OPD-SETDA", "Sekretariat Daerah", "sekretariat", None, "UMUM", 45, tuple(setda_posts)))
    for code, name, kind, sector, _head, n_kabid, n_kasi, pelaksana, sekretaris in _OPDS:
        posts = [(f"JPT-{code}", 1), (f"ADM-{sector}", n_kabid), (f"PGW-{sector}", n_kasi),
                 ("PGW-KASUBBAG-UMUM", 1), ("PGW-KASUBBAG-KEU", 1)]
        if sekretaris:
            posts.append(("ADM-SEKRETARIS", 1))
        units.append(Unit(f"OPD-{code}", name, kind, None, sector, pelaksana, tuple(posts)))
    units.append(Unit("RSUD-SSMA", "RSUD Sultan Syarif Mohamad Alkadrie", "rsud", "OPD-DINKES", "RS", 60,
                      (("JPT-RSUD", 1), ("ADM-RS", 4), ("ADM-SEKRETARIS", 1), ("PGW-RS", 8),
                       ("PGW-KASUBBAG-UMUM", 1), ("PGW-KASUBBAG-KEU", 1)), group="OPD-DINKES"))
    units.append(Unit("UPTD-LABKESDA", "UPTD Laboratorium Kesehatan Daerah", "lainnya", "OPD-DINKES", "KES", 4,
                      (("PGW-KASUBBAG-TU", 1),), group="OPD-DINKES"))
    for i, name in enumerate(PUSKESMAS, start=1):
        units.append(Unit(f"PKM-{i:02d}", f"Puskesmas {name}", "puskesmas", "OPD-DINKES", "KES", 2,
                          (("PGW-KASUBBAG-TU", 1),), group="OPD-DINKES"))
    for code, name, kelurahan in KECAMATAN:
        kec_id = f"KEC-PTK-{code}"
        units.append(Unit(kec_id, f"Kecamatan {name}", "kecamatan", None, "PEM", 9,
                          (("ADM-CAMAT", 1), ("ADM-SEKCAM", 1), ("PGW-PEM", 3), ("PGW-KASUBBAG-UMUM", 1))))
        for kel in kelurahan:
            units.append(Unit(f"KEL-{_slug(kel)}", f"Kelurahan {kel}", "kelurahan", kec_id, "PEM", 4,
                              (("PGW-LURAH", 1), ("PGW-SEKLUR", 1)), group=kec_id))
    for i in range(1, n_sd + 1):
        units.append(Unit(f"SD-NEG-{i:03d}", f"SD Negeri {i} Pontianak", "sekolah", "OPD-DISDIKBUD", "PDK", 0.5,
                          group="OPD-DISDIKBUD"))
    for i in range(1, n_smp + 1):
        units.append(Unit(f"SMP-NEG-{i:03d}", f"SMP Negeri {i} Pontianak", "sekolah", "OPD-DISDIKBUD", "PDK", 2.0,
                          group="OPD-DISDIKBUD"))
    return units


# ---------------------------------------------------------------------------------------------------------
# Positions (jabatan) and who holds them.
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Position:
    position_id: str
    title: str
    position_type: str
    job_family: str
    technical: tuple[str, ...]
    structural: bool = False
    teacher: bool = False
    # non-structural posts: expected holders at the reference size and where they sit ("PKM-*" = prefix)
    count: float = 0.0
    where: tuple[tuple[str, float], ...] = ()
    pppk_share: float = 0.0  # share of PPPK among holders hired since the PPPK waves
    education: str = "s1"  # key of EDUCATION_MIX
    female_share: float = 0.45


EDUCATION_MIX: dict[str, tuple[tuple[str, float], ...]] = {
    "low": (("sd", 0.04), ("smp", 0.10), ("sma", 0.66), ("d3", 0.20)),
    "mid": (("sma", 0.35), ("d3", 0.25), ("d4", 0.05), ("s1", 0.35)),
    "sma": (("sma", 0.85), ("d3", 0.15)),
    "d3": (("d3", 0.85), ("d4", 0.08), ("s1", 0.07)),
    "s1": (("s1", 0.78), ("d4", 0.07), ("s2", 0.15)),
    "s1s2": (("s1", 0.5), ("s2", 0.5)),
    "guru": (("s1", 0.86), ("d4", 0.04), ("s2", 0.10)),
    "dokter": (("s1", 0.85), ("s2", 0.15)),
    "spesialis": (("s2", 0.9), ("s3", 0.1)),
    "bidan": (("d4", 0.6), ("s1", 0.35), ("s2", 0.05)),
    "pengawas": (("d3", 0.08), ("s1", 0.62), ("s2", 0.30)),
    "administrator": (("s1", 0.35), ("s2", 0.65)),
    "jpt": (("s2", 0.8), ("s3", 0.2)),
}

_T = {  # short names of the position types
    "jpt": "jpt_pratama", "adm": "administrator", "pgw": "pengawas", "plk": "pelaksana",
    "utama": "fungsional_ahli_utama", "madya": "fungsional_ahli_madya", "muda": "fungsional_ahli_muda",
    "pertama": "fungsional_ahli_pertama", "penyelia": "fungsional_penyelia", "mahir": "fungsional_mahir",
    "terampil": "fungsional_terampil", "pemula": "fungsional_pemula",
}
_JENJANG_TITLE = {
    "utama": "Ahli Utama", "madya": "Ahli Madya", "muda": "Ahli Muda", "pertama": "Ahli Pertama",
    "penyelia": "Penyelia", "mahir": "Mahir", "terampil": "Terampil", "pemula": "Pemula",
}

# Functional positions: (code, name, family, technical, where, education ahli/keterampilan, female share,
# pppk share, {jenjang: count at reference size}).
_FUNCTIONAL: tuple[tuple, ...] = (
    ("GURU", "Guru", "pendidikan", ("TKN-PED", "TKN-KUR", "TKN-ASM"), (("SD-*", 0.6), ("SMP-*", 0.4)),
     ("guru", "d3"), 0.72, 0.62, {"pertama": 1080, "muda": 860, "madya": 640}),
    ("PENGAWAS-SEKOLAH", "Pengawas Sekolah", "pendidikan", ("TKN-MPS", "TKN-KUR"), (("OPD-DISDIKBUD", 1.0),),
     ("s1s2", "d3"), 0.5, 0.0, {"muda": 6, "madya": 12}),
    ("DOKTER", "Dokter", "kesehatan", ("TKN-MED", "TKN-GAD"),
     (("RSUD-SSMA", 0.45), ("PKM-*", 0.5), ("OPD-DINKES", 0.05)), ("dokter", "d3"), 0.55, 0.25,
     {"pertama": 52, "muda": 46, "madya": 28, "utama": 3}),
    ("DOKTER-GIGI", "Dokter Gigi", "kesehatan", ("TKN-MED",), (("PKM-*", 0.75), ("RSUD-SSMA", 0.25)),
     ("dokter", "d3"), 0.7, 0.25, {"pertama": 14, "muda": 9}),
    ("PERAWAT", "Perawat", "kesehatan", ("TKN-KEP", "TKN-GAD"),
     (("RSUD-SSMA", 0.55), ("PKM-*", 0.43), ("OPD-DINKES", 0.02)), ("s1", "d3"), 0.72, 0.35,
     {"pertama": 160, "muda": 85, "madya": 22, "terampil": 130, "mahir": 100, "penyelia": 55}),
    ("BIDAN", "Bidan", "kesehatan", ("TKN-BID", "TKN-GAD"), (("PKM-*", 0.75), ("RSUD-SSMA", 0.25)),
     ("bidan", "d3"), 1.0, 0.35, {"pertama": 50, "muda": 18, "terampil": 85, "mahir": 65, "penyelia": 36}),
    ("APOTEKER", "Apoteker", "kesehatan", ("TKN-FAR",), (("RSUD-SSMA", 0.5), ("PKM-*", 0.5)),
     ("s1", "d3"), 0.75, 0.3, {"pertama": 17, "muda": 8}),
    ("TTK", "Asisten Apoteker", "kesehatan", ("TKN-FAR",), (("RSUD-SSMA", 0.5), ("PKM-*", 0.5)),
     ("s1", "d3"), 0.75, 0.3, {"terampil": 26, "mahir": 12}),
    ("PRANATA-LAB", "Pranata Laboratorium Kesehatan", "kesehatan", ("TKN-PNJ",),
     (("PKM-*", 0.5), ("RSUD-SSMA", 0.35), ("UPTD-LABKESDA", 0.15)), ("s1", "d3"), 0.65, 0.3,
     {"pertama": 6, "terampil": 24, "mahir": 10}),
    ("NUTRISIONIS", "Nutrisionis", "kesehatan", ("TKN-KMS",), (("PKM-*", 0.7), ("RSUD-SSMA", 0.3)),
     ("s1", "d3"), 0.85, 0.3, {"pertama": 10, "terampil": 15}),
    ("SANITARIAN", "Tenaga Sanitasi Lingkungan", "kesehatan", ("TKN-KMS", "TKN-LHK"),
     (("PKM-*", 0.9), ("OPD-DINKES", 0.1)), ("s1", "d3"), 0.6, 0.3, {"pertama": 8, "terampil": 15}),
    ("EPIDEMIOLOG", "Epidemiolog Kesehatan", "kesehatan", ("TKN-KMS", "TKN-DAT"),
     (("OPD-DINKES", 0.6), ("PKM-*", 0.4)), ("s1", "d3"), 0.6, 0.1, {"pertama": 5, "muda": 2}),
    ("PROMKES", "Penyuluh Kesehatan Masyarakat", "kesehatan", ("TKN-KMS",), (("PKM-*", 0.8), ("OPD-DINKES", 0.2)),
     ("s1", "d3"), 0.7, 0.3, {"pertama": 10, "muda": 4}),
    ("PEREKAM-MEDIS", "Perekam Medis", "kesehatan", ("TKN-RMK",), (("RSUD-SSMA", 0.6), ("PKM-*", 0.4)),
     ("s1", "d3"), 0.65, 0.35, {"terampil": 17, "mahir": 6}),
    ("ADMINKES", "Administrator Kesehatan", "kesehatan", ("TKN-KMS", "TKN-REN"),
     (("OPD-DINKES", 0.5), ("PKM-*", 0.3), ("RSUD-SSMA", 0.2)), ("s1", "d3"), 0.6, 0.1, {"pertama": 8, "muda": 4}),
    ("FISIOTERAPIS", "Fisioterapis", "kesehatan", ("TKN-PNJ",), (("RSUD-SSMA", 1.0),), ("s1", "d3"), 0.6, 0.3,
     {"terampil": 8}),
    ("RADIOGRAFER", "Radiografer", "kesehatan", ("TKN-PNJ",), (("RSUD-SSMA", 1.0),), ("s1", "d3"), 0.4, 0.3,
     {"terampil": 8}),
    ("AUDITOR", "Auditor", "pengawasan", ("TKN-AUD",), (("OPD-INSPEKTORAT", 1.0),), ("s1", "d3"), 0.5, 0.0,
     {"pertama": 10, "muda": 8, "madya": 4}),
    ("P2UPD", "Pengawas Penyelenggaraan Urusan Pemerintahan Daerah", "pengawasan", ("TKN-AUD", "TKN-PEM"),
     (("OPD-INSPEKTORAT", 1.0),), ("s1", "d3"), 0.45, 0.0, {"pertama": 8, "muda": 5}),
    ("PERENCANA", "Perencana", "perencanaan", ("TKN-REN", "TKN-MNV"), (("OPD-BAPPEDA", 0.5), ("OPD-*", 0.5)),
     ("s1", "d3"), 0.5, 0.0, {"pertama": 14, "muda": 10, "madya": 3}),
    ("ANALIS-KEBIJAKAN", "Analis Kebijakan", "perencanaan", ("TKN-REN", "TKN-HKM"),
     (("OPD-SETDA", 0.5), ("OPD-BAPPEDA", 0.5)), ("s1s2", "d3"), 0.45, 0.0, {"muda": 9, "madya": 3}),
    ("PENGELOLA-PBJ", "Pengelola Pengadaan Barang/Jasa", "pengadaan", ("TKN-PBJ",), (("OPD-SETDA", 1.0),),
     ("s1", "d3"), 0.4, 0.0, {"pertama": 10, "muda": 6}),
    ("PRAKOM", "Pranata Komputer", "teknologi_informasi", ("TKN-TIK", "TKN-KAM"),
     (("OPD-DISKOMINFO", 0.4), ("OPD-*", 0.6)), ("s1", "d3"), 0.35, 0.3, {"pertama": 14, "muda": 5, "terampil": 14}),
    ("STATISTISI", "Statistisi", "teknologi_informasi", ("TKN-DAT",), (("OPD-DISKOMINFO", 1.0),), ("s1", "d3"), 0.5,
     0.2, {"pertama": 4}),
    ("HUMAS", "Pranata Hubungan Masyarakat", "teknologi_informasi", ("TKN-HUM",),
     (("OPD-DISKOMINFO", 0.6), ("OPD-SETDA", 0.4)), ("s1", "d3"), 0.55, 0.2, {"pertama": 7}),
    ("ARSIPARIS", "Arsiparis", "administrasi", ("TKN-ADM",), (("OPD-DISPERPUSIP", 0.4), ("OPD-*", 0.6)),
     ("s1", "d3"), 0.6, 0.2, {"pertama": 10, "terampil": 14}),
    ("PUSTAKAWAN", "Pustakawan", "administrasi", ("TKN-ADM",), (("OPD-DISPERPUSIP", 0.7), ("SMP-*", 0.3)),
     ("s1", "d3"), 0.7, 0.2, {"pertama": 6, "terampil": 8}),
    ("ANALIS-SDM", "Analis Sumber Daya Manusia Aparatur", "kepegawaian", ("TKN-SDM",), (("OPD-BKPSDM", 1.0),),
     ("s1", "d3"), 0.55, 0.0, {"pertama": 10, "muda": 5}),
    ("ASESOR-SDM", "Asesor Sumber Daya Manusia Aparatur", "kepegawaian", ("TKN-SDM",), (("OPD-BKPSDM", 1.0),),
     ("s1", "d3"), 0.5, 0.0, {"pertama": 3, "muda": 2}),
    ("ANALIS-KEUDA", "Analis Keuangan Pusat dan Daerah", "keuangan", ("TKN-KEU", "TKN-AKT"),
     (("OPD-BPKAD", 0.8), ("OPD-BAPENDA", 0.2)), ("s1", "d3"), 0.55, 0.0, {"pertama": 10, "muda": 5}),
    ("PRANATA-KEUANGAN", "Pranata Keuangan APBD", "keuangan", ("TKN-KEU",), (("OPD-*", 1.0),), ("s1", "d3"), 0.6,
     0.2, {"terampil": 20, "mahir": 10}),
    ("PENGAWAS-LH", "Pengendali Dampak Lingkungan", "lingkungan", ("TKN-LHK",), (("OPD-DLH", 1.0),), ("s1", "d3"),
     0.45, 0.1, {"pertama": 6}),
    ("PENGUJI-KENDARAAN", "Penguji Kendaraan Bermotor", "perhubungan", ("TKN-LLA",), (("OPD-DISHUB", 1.0),),
     ("s1", "d3"), 0.1, 0.1, {"terampil": 10, "mahir": 5}),
    ("TEKNIK-JALAN", "Teknik Jalan dan Jembatan", "teknik", ("TKN-KON",), (("OPD-PUPR", 1.0),), ("s1", "d3"), 0.2,
     0.1, {"pertama": 8, "muda": 5}),
    ("PENATA-RUANG", "Penata Ruang", "teknik", ("TKN-RUA",), (("OPD-PUPR", 1.0),), ("s1", "d3"), 0.35, 0.1,
     {"pertama": 4}),
    ("PEKERJA-SOSIAL", "Pekerja Sosial", "sosial", ("TKN-SOS",), (("OPD-DINSOS", 1.0),), ("s1", "d3"), 0.6, 0.2,
     {"pertama": 8}),
    ("PENYULUH-KB", "Penyuluh Keluarga Berencana", "sosial", ("TKN-PPA", "TKN-SOS"), (("OPD-DP2KBP3A", 1.0),),
     ("s1", "d3"), 0.7, 0.2, {"pertama": 8, "muda": 3}),
    ("ADMINDUK", "Administrator Database Kependudukan", "kependudukan", ("TKN-DUK", "TKN-DAT"),
     (("OPD-DISDUKCAPIL", 1.0),), ("s1", "d3"), 0.5, 0.1, {"pertama": 8}),
    ("POLPP", "Polisi Pamong Praja", "ketertiban", ("TKN-TRB",), (("OPD-SATPOLPP", 1.0),), ("s1", "sma"), 0.2, 0.3,
     {"pertama": 5, "pemula": 30, "terampil": 50, "mahir": 28, "penyelia": 14}),
    ("ANALIS-BENCANA", "Analis Kebencanaan", "kebencanaan", ("TKN-BEN",), (("OPD-BPBD", 1.0),), ("s1", "d3"), 0.3, 0.1,
     {"pertama": 5}),
    ("PENYULUH-PERTANIAN", "Penyuluh Pertanian", "ekonomi", ("TKN-PGN",), (("OPD-DPPP", 1.0),), ("s1", "d3"), 0.4,
     0.3, {"pertama": 8, "terampil": 10}),
    ("PENERA", "Penera", "ekonomi", ("TKN-EKO",), (("OPD-DISKUMDAG", 1.0),), ("s1", "d3"), 0.3, 0.1, {"terampil": 6}),
)

# Pelaksana: two titles per sector; placed where units of that sector have pelaksana staff.
PELAKSANA_SPLIT = (0.55, 0.45)


def build_positions() -> list[Position]:
    """The full position catalogue (structural, pelaksana and functional), in a fixed order."""
    positions: list[Position] = []
    jpt_titles = [(jid, title, sector) for jid, title, sector in _SETDA_JPT]
    jpt_titles += [(f"JPT-{code}", head, sector) for code, _n, _k, sector, head, *_ in _OPDS]
    jpt_titles.append(("JPT-RSUD", "Direktur RSUD Sultan Syarif Mohamad Alkadrie", "RS"))
    for jid, title, sector in jpt_titles:
        s = SECTORS[sector]
        positions.append(Position(jid, title, _T["jpt"], s.job_family, s.technical[:2], structural=True,
                                  education="jpt", female_share=0.3))
    for s in SECTORS.values():
        positions.append(Position(f"ADM-{s.code}", s.administrator, _T["adm"], s.job_family, s.technical[:2],
                                  structural=True, education="administrator", female_share=0.38))
    positions += [
        Position("ADM-SEKRETARIS", "Sekretaris Dinas/Badan", _T["adm"], "administrasi", ("TKN-ADM", "TKN-KEU"),
                 structural=True, education="administrator", female_share=0.4),
        Position("ADM-CAMAT", "Camat", _T["adm"], "pemerintahan", ("TKN-PEM",), structural=True,
                 education="administrator", female_share=0.25),
        Position("ADM-SEKCAM", "Sekretaris Camat", _T["adm"], "pemerintahan", ("TKN-PEM", "TKN-ADM"),
                 structural=True, education="administrator", female_share=0.35),
    ]
    for s in SECTORS.values():
        positions.append(Position(f"PGW-{s.code}", s.pengawas, _T["pgw"], s.job_family, s.technical[:2],
                                  structural=True, education="pengawas", female_share=0.45))
    positions += [
        Position("PGW-KASUBBAG-UMUM", "Kepala Subbagian Umum dan Kepegawaian", _T["pgw"], "administrasi",
                 ("TKN-ADM", "TKN-SDM"), structural=True, education="pengawas", female_share=0.5),
        Position("PGW-KASUBBAG-KEU", "Kepala Subbagian Keuangan", _T["pgw"], "keuangan", ("TKN-KEU", "TKN-PBJ"),
                 structural=True, education="pengawas", female_share=0.55),
        Position("PGW-KASUBBAG-TU", "Kepala Subbagian Tata Usaha", _T["pgw"], "kesehatan", ("TKN-ADM", "TKN-KMS"),
                 structural=True, education="pengawas", female_share=0.6),
        Position("PGW-LURAH", "Lurah", _T["pgw"], "pemerintahan", ("TKN-PEM",), structural=True,
                 education="pengawas", female_share=0.3),
        Position("PGW-SEKLUR", "Sekretaris Kelurahan", _T["pgw"], "pemerintahan", ("TKN-PEM", "TKN-ADM"),
                 structural=True, education="pengawas", female_share=0.45),
    ]
    for s in SECTORS.values():
        for k, title in enumerate(s.pelaksana, start=1):
            positions.append(Position(f"PLK-{s.code}-{k}", title, _T["plk"], s.job_family, s.technical[:1],
                                      education="low" if k == 1 else "mid", female_share=0.45,
                                      pppk_share=0.25))
    for code, name, family, technical, where, (edu_ahli, edu_ket), female, pppk, counts in _FUNCTIONAL:
        for jenjang, count in counts.items():
            ahli = jenjang in ("utama", "madya", "muda", "pertama")
            education = edu_ahli if ahli else edu_ket
            if code == "DOKTER" and jenjang in ("madya", "utama"):
                education = "spesialis"
            # PPPK hold mostly the entry jenjang (ahli pertama, terampil, pemula)
            share = pppk if jenjang in ("pertama", "terampil", "pemula") else pppk * 0.15
            if jenjang in ("madya", "utama"):
                share = 0.0
            n_tech = 3 if ahli and jenjang != "pertama" else 2
            positions.append(Position(
                f"JF-{code}-{jenjang.upper()}", f"{name} {_JENJANG_TITLE[jenjang]}", _T[jenjang], family,
                technical[:n_tech], teacher=code == "GURU", count=float(count), where=where, pppk_share=share,
                education=education, female_share=female))
    return positions


# ---------------------------------------------------------------------------------------------------------
# Standar Kompetensi Jabatan: required levels rise with the position type.
# ---------------------------------------------------------------------------------------------------------
# Core levels in the order of CORE_IDS, and (primary, secondary) technical levels.
SKJ_CORE: dict[str, tuple[int, ...]] = {
    "pelaksana": (2, 2, 1, 2, 2, 1, 1, 1, 2),
    "fungsional_pemula": (2, 1, 1, 1, 2, 1, 1, 1, 1),
    "fungsional_terampil": (2, 2, 2, 2, 2, 2, 2, 2, 2),
    "fungsional_ahli_pertama": (2, 2, 2, 2, 2, 2, 2, 2, 2),
    "fungsional_mahir": (3, 2, 2, 3, 3, 2, 2, 2, 2),
    "fungsional_ahli_muda": (3, 3, 3, 3, 3, 3, 3, 3, 3),
    "fungsional_penyelia": (3, 3, 3, 3, 3, 3, 3, 3, 3),
    "pengawas": (3, 3, 3, 3, 3, 3, 3, 3, 3),
    "fungsional_ahli_madya": (4, 3, 4, 4, 3, 4, 3, 4, 3),
    "administrator": (4, 4, 3, 4, 4, 3, 4, 4, 3),
    "fungsional_ahli_utama": (5, 4, 4, 4, 4, 5, 4, 4, 4),
    "jpt_pratama": (5, 4, 4, 5, 4, 4, 5, 5, 4),
}
SKJ_TECHNICAL: dict[str, tuple[int, int]] = {
    "pelaksana": (2, 1), "fungsional_pemula": (1, 1), "fungsional_terampil": (2, 2),
    "fungsional_ahli_pertama": (2, 2), "fungsional_mahir": (3, 2), "fungsional_ahli_muda": (3, 3),
    "fungsional_penyelia": (3, 3), "pengawas": (3, 2), "fungsional_ahli_madya": (4, 3), "administrator": (3, 3),
    "fungsional_ahli_utama": (4, 4), "jpt_pratama": (4, 3),
}
_SERVICE_FAMILIES = ("kesehatan", "kependudukan", "pelayanan_publik", "pemerintahan")


def standards(position: Position) -> list[tuple[str, int]]:
    """(competency_id, required_level) of a position: the nine core ones, then 1–3 technical ones."""
    core = list(SKJ_CORE[position.position_type])
    if position.job_family in _SERVICE_FAMILIES and core[4] < 3:
        core[4] += 1  # front-line service posts ask one level more of Pelayanan Publik
    if position.teacher:
        core[5] = min(5, core[5] + 1)  # teachers develop others: Pengembangan Diri dan Orang Lain
    rows = list(zip(CORE_IDS, core, strict=True))
    primary, secondary = SKJ_TECHNICAL[position.position_type]
    rows += [(cid, primary if k == 0 else secondary) for k, cid in enumerate(position.technical)]
    return rows
