"""The training catalogue of the synthetic export: BKPSDM's development offer, with level bands per
targeted competency (part of the generator's fixed catalogue, `features.generator.catalogue`).

Nothing here is random. `popularity` and `quality` are the generator's own (not exported): how often a
course is picked and how well it is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from features.generator.competencies import CORE_IDS

STRUKTURAL = "jpt_pratama;administrator;pengawas"
AHLI = "fungsional_ahli_utama;fungsional_ahli_madya;fungsional_ahli_muda;fungsional_ahli_pertama"
KETERAMPILAN = "fungsional_penyelia;fungsional_mahir;fungsional_terampil;fungsional_pemula"
FUNGSIONAL = f"{AHLI};{KETERAMPILAN}"
GURU = "fungsional_ahli_madya;fungsional_ahli_muda;fungsional_ahli_pertama"
NON_JPT = ("administrator;pengawas;pelaksana;" + FUNGSIONAL)

BPSDM = "BPSDM Provinsi Kalimantan Barat"
INTERNAL = "Internal BKPSDM Kota Pontianak"
CORPU = "ASN Corpu LAN RI"


@dataclass(frozen=True)
class Training:
    training_id: str
    title: str
    format: str
    hours_jp: int
    cost_idr: int
    provider: str
    eligible_position_types: str = ""
    eligible_employment: str = ""
    max_years_of_service: int | None = None
    active: bool = True
    popularity: float = 1.0  # base weight when BKPSDM or a unit picks a course (not exported)
    quality: float = 1.0  # how well the course is made (not exported): multiplies its effect
    targets: tuple[tuple[str, int, int, float], ...] = field(default=())  # (competency, min, max, weight)


M = dict(zip(("INT", "KS", "KOM", "OH", "PP", "PDO", "MP", "PK"), CORE_IDS[:8], strict=True)) | {"PB": "SK-01"}


def _t(*targets: tuple[str, int, int] | tuple[str, int, int, float]) -> tuple[tuple[str, int, int, float], ...]:
    out = []
    for target in targets:
        code, lo, hi, *weight = target
        out.append((M.get(code, code), lo, hi, weight[0] if weight else 1.0))
    return tuple(out)


TRAININGS: tuple[Training, ...] = (
    # --- leadership ladder and basic training -----------------------------------------------------------
    Training("PLT-LATSAR-CPNS", "Pelatihan Dasar CPNS (Latsar)", "blended", 647, 11_500_000, BPSDM,
             eligible_employment="pns", max_years_of_service=1, popularity=0.0, quality=1.0,
             targets=_t(("INT", 1, 2), ("PB", 1, 2), ("PP", 1, 2, 0.8), ("KS", 1, 2, 0.6))),
    Training("PLT-ORIENTASI-PPPK", "Orientasi Pegawai PPPK", "e_learning", 40, 250_000, CORPU,
             eligible_employment="pppk", max_years_of_service=1, popularity=0.0, quality=0.9,
             targets=_t(("INT", 1, 2), ("PB", 1, 2), ("PP", 1, 2, 0.6))),
    Training("PLT-PKP", "Pelatihan Kepemimpinan Pengawas (PKP)", "blended", 330, 15_500_000, BPSDM, "pengawas",
             "pns", popularity=3.0, quality=1.05,
             targets=_t(("OH", 2, 3), ("PDO", 2, 3), ("KS", 2, 3, 0.7), ("PK", 2, 3, 0.7))),
    Training("PLT-PKA", "Pelatihan Kepemimpinan Administrator (PKA)", "blended", 376, 19_500_000, BPSDM,
             "administrator", "pns", popularity=3.0, quality=1.05,
             targets=_t(("MP", 3, 4), ("PK", 3, 4), ("OH", 3, 4, 0.7), ("PDO", 3, 4, 0.7))),
    Training("PLT-PKN-II", "Pelatihan Kepemimpinan Nasional Tingkat II (PKN II)", "blended", 428, 23_000_000,
             "LAN RI", "jpt_pratama", "pns", popularity=4.0, quality=1.1,
             targets=_t(("MP", 4, 5), ("PK", 4, 5), ("OH", 4, 5, 0.6), ("PB", 3, 4, 0.5))),
    Training("PLT-DIKLATPIM-IV", "Diklat Kepemimpinan Tingkat IV (pola lama)", "klasikal", 285, 12_000_000, BPSDM,
             "pengawas", "pns", active=False, popularity=0.6, quality=0.8,
             targets=_t(("OH", 2, 3), ("KS", 2, 3, 0.7))),
    Training("PLT-DIKLATPIM-III", "Diklat Kepemimpinan Tingkat III (pola lama)", "klasikal", 320, 16_000_000,
             BPSDM, "administrator", "pns", active=False, popularity=0.6, quality=0.8,
             targets=_t(("MP", 3, 4), ("PK", 3, 4, 0.7))),
    # --- managerial and socio-cultural ---------------------------------------------------------------------
    Training("PLT-BERAKHLAK", "Penguatan Nilai Dasar BerAKHLAK", "e_learning", 8, 0, CORPU, popularity=2.0,
             quality=0.9, targets=_t(("INT", 1, 2), ("KS", 1, 2, 0.6))),
    Training("PLT-ACLC-KPK", "Integritas dan Antikorupsi (ACLC KPK)", "e_learning", 12, 0, "KPK (ACLC)",
             popularity=1.6, quality=1.0, targets=_t(("INT", 1, 3))),
    Training("PLT-WASBANG", "Wawasan Kebangsaan dan Moderasi Beragama", "seminar", 8, 350_000,
             "Badan Kesatuan Bangsa dan Politik Kota Pontianak", popularity=1.2, quality=1.0,
             targets=_t(("PB", 1, 3))),
    Training("PLT-KOMUNIKASI", "Komunikasi Efektif dan Public Speaking", "klasikal", 24, 2_250_000, BPSDM,
             popularity=1.0, quality=1.0, targets=_t(("KOM", 1, 2))),
    Training("PLT-KOMUNIKASI-STRATEGIS", "Komunikasi Strategis untuk Pimpinan", "workshop", 16, 3_000_000, BPSDM,
             STRUKTURAL + ";fungsional_ahli_madya", popularity=0.7, quality=1.0, targets=_t(("KOM", 3, 4))),
    Training("PLT-PELAYANAN-PRIMA", "Pelayanan Prima", "klasikal", 30, 2_500_000, BPSDM, popularity=1.2,
             quality=1.0, targets=_t(("PP", 1, 2))),
    Training("PLT-INOVASI-PELAYANAN", "Manajemen Pelayanan Publik Berbasis Inovasi", "workshop", 24, 3_000_000,
             "LAN RI", popularity=0.7, quality=1.1, targets=_t(("PP", 3, 4), ("MP", 3, 4, 0.5))),
    Training("PLT-PELAYANAN-ELEARNING", "Standar Pelayanan Publik (e-learning)", "e_learning", 12, 0, CORPU,
             popularity=1.2, quality=0.8, targets=_t(("PP", 1, 3))),
    Training("PLT-KOLABORASI", "Kerja Sama Tim dan Kolaborasi Lintas OPD", "klasikal", 24, 2_000_000, INTERNAL,
             popularity=0.9, quality=1.0, targets=_t(("KS", 2, 3))),
    Training("PLT-MANAJEMEN-PERUBAHAN", "Manajemen Perubahan di Sektor Publik", "klasikal", 32, 3_250_000, BPSDM,
             popularity=0.8, quality=1.0, targets=_t(("MP", 2, 3))),
    Training("PLT-COACHING-PERUBAHAN", "Coaching Agen Perubahan", "coaching", 20, 1_500_000, INTERNAL,
             NON_JPT, popularity=0.5, quality=1.1, targets=_t(("MP", 3, 4))),
    Training("PLT-SMART-ASN", "Smart ASN: Literasi Digital", "e_learning", 10, 0, CORPU, popularity=1.6,
             quality=1.0, targets=_t(("MP", 1, 2), ("TKN-TIK", 1, 2, 0.5))),
    Training("PLT-KEPUTUSAN-DATA", "Pengambilan Keputusan Berbasis Data", "workshop", 24, 2_750_000, BPSDM,
             popularity=0.8, quality=1.0, targets=_t(("PK", 2, 3), ("TKN-DAT", 2, 3, 0.5))),
    Training("PLT-PROBLEM-SOLVING", "Analisis Masalah dan Pengambilan Keputusan", "klasikal", 24, 2_250_000,
             BPSDM, popularity=0.8, quality=1.0, targets=_t(("PK", 1, 2))),
    Training("PLT-SKP", "Manajemen Kinerja ASN dan SKP", "e_learning", 12, 0, "BKN", popularity=1.4,
             quality=0.9, targets=_t(("OH", 1, 2))),
    Training("PLT-KINERJA-TIM", "Mengelola Kinerja Tim", "klasikal", 30, 2_750_000, BPSDM,
             STRUKTURAL + ";fungsional_penyelia;fungsional_ahli_muda;fungsional_ahli_madya", popularity=0.8,
             quality=1.0, targets=_t(("OH", 3, 4), ("PDO", 2, 3, 0.6))),
    Training("PLT-COACHING-ATASAN", "Coaching dan Mentoring untuk Atasan", "coaching", 20, 1_500_000, INTERNAL,
             STRUKTURAL + ";fungsional_penyelia;fungsional_ahli_madya", popularity=0.7, quality=1.1,
             targets=_t(("PDO", 2, 4))),
    Training("PLT-MENTORING-PEGAWAI-BARU", "Mentoring Pegawai Baru", "mentoring", 16, 0, INTERNAL,
             max_years_of_service=2, popularity=1.0, quality=1.0,
             targets=_t(("PDO", 1, 2), ("KS", 1, 2, 0.6))),
    Training("PLT-MAGANG-KEMENPAN", "Magang Inovasi Pelayanan di Kementerian PANRB", "magang", 80, 8_500_000,
             "Kementerian PANRB", "administrator;pengawas;" + AHLI, "pns", popularity=0.3, quality=1.0,
             targets=_t(("MP", 2, 3), ("PP", 2, 3, 0.7))),
    Training("PLT-SEMINAR-RB", "Seminar Reformasi Birokrasi dan Zona Integritas", "seminar", 6, 0, INTERNAL,
             popularity=1.0, quality=0.9, targets=_t(("MP", 1, 2), ("INT", 1, 2, 0.5))),
    Training("PLT-PENGEMBANGAN-DIRI", "Merancang Rencana Pengembangan Diri (IDP)", "e_learning", 8, 0, CORPU,
             popularity=1.0, quality=0.9, targets=_t(("PDO", 1, 2))),
    # --- finance, revenue and procurement ---------------------------------------------------------------
    Training("PLT-SIPD-KEUANGAN", "Bimtek Penatausahaan Keuangan Daerah (SIPD-RI)", "klasikal", 32, 3_500_000,
             "Kemendagri (BPSDM)", popularity=1.0, quality=1.0, targets=_t(("TKN-KEU", 1, 2))),
    Training("PLT-SIMDA", "Bimtek SIMDA Keuangan", "klasikal", 24, 2_500_000, "BPKP Perwakilan Kalimantan Barat",
             active=False, popularity=0.8, quality=0.7, targets=_t(("TKN-KEU", 1, 2))),
    Training("PLT-BENDAHARA", "Pelatihan dan Sertifikasi Bendahara Pemerintah", "klasikal", 40, 4_500_000,
             "Kementerian Keuangan (BPPK)", "pelaksana;" + FUNGSIONAL, popularity=0.8, quality=1.05,
             targets=_t(("TKN-KEU", 2, 3))),
    Training("PLT-KEUDA-ELEARNING", "Pengelolaan Keuangan Daerah (e-learning)", "e_learning", 12, 0,
             "Kemendagri (BPSDM)", popularity=1.0, quality=0.9, targets=_t(("TKN-KEU", 1, 2))),
    Training("PLT-AKUNTANSI-AKRUAL", "Akuntansi Berbasis Akrual (SAP)", "klasikal", 40, 4_000_000, BPSDM,
             popularity=0.8, quality=1.0, targets=_t(("TKN-AKT", 2, 3))),
    Training("PLT-LAPORAN-KEUANGAN", "Reviu dan Analisis Laporan Keuangan Daerah", "workshop", 24, 3_000_000,
             "BPKP Perwakilan Kalimantan Barat", STRUKTURAL + ";" + AHLI, popularity=0.6, quality=1.0,
             targets=_t(("TKN-AKT", 3, 4), ("TKN-AUD", 3, 4, 0.5))),
    Training("PLT-PAJAK-DAERAH", "Pemeriksaan Pajak Daerah", "klasikal", 40, 4_000_000, "Kemendagri (BPSDM)",
             popularity=0.7, quality=1.0, targets=_t(("TKN-PAD", 2, 3))),
    Training("PLT-PAD", "Optimalisasi Pendapatan Asli Daerah", "workshop", 16, 2_000_000, BPSDM, popularity=0.6,
             quality=1.0, targets=_t(("TKN-PAD", 3, 4))),
    Training("PLT-PBJ-DASAR", "Pelatihan dan Sertifikasi PBJ Tingkat Dasar", "klasikal", 30, 3_000_000, "LKPP",
             popularity=0.9, quality=1.05, targets=_t(("TKN-PBJ", 1, 2))),
    Training("PLT-PBJ-LANJUT", "Pelatihan PBJ Tingkat Lanjut (Pengelola Pengadaan)", "klasikal", 60, 5_500_000,
             "LKPP", "pengawas;administrator;" + AHLI, popularity=0.6, quality=1.05, targets=_t(("TKN-PBJ", 2, 4))),
    Training("PLT-EKATALOG", "E-Katalog dan Toko Daring", "e_learning", 8, 0, "LKPP", popularity=0.9,
             quality=0.9, targets=_t(("TKN-PBJ", 1, 2))),
    # --- planning, oversight, law, HR, administration ---------------------------------------------------
    Training("PLT-PERENCANAAN-SIPD", "Perencanaan Pembangunan Daerah dan SIPD", "klasikal", 40, 3_750_000,
             "Kemendagri (BPSDM)", popularity=0.9, quality=1.0, targets=_t(("TKN-REN", 1, 2))),
    Training("PLT-RPJMD", "Penyusunan RPJMD dan Renstra Perangkat Daerah", "workshop", 32, 3_500_000, BPSDM,
             STRUKTURAL + ";" + AHLI, popularity=0.6, quality=1.0, targets=_t(("TKN-REN", 3, 4))),
    Training("PLT-MONEV", "Monitoring dan Evaluasi Pembangunan", "klasikal", 32, 3_000_000, BPSDM, popularity=0.7,
             quality=1.0, targets=_t(("TKN-MNV", 2, 3))),
    Training("PLT-ANALIS-KEBIJAKAN", "Analisis Kebijakan Publik", "klasikal", 40, 4_500_000, "LAN RI",
             "administrator;pengawas;" + AHLI, popularity=0.5, quality=1.1,
             targets=_t(("TKN-REN", 2, 3), ("PK", 2, 3, 0.6))),
    Training("PLT-AUDITOR-PEMBENTUKAN", "Diklat Pembentukan Auditor Terampil dan Ahli", "klasikal", 120, 12_000_000,
             "BPKP Perwakilan Kalimantan Barat", AHLI, "pns", popularity=0.5, quality=1.0,
             targets=_t(("TKN-AUD", 1, 2))),
    Training("PLT-AUDIT-RISIKO", "Audit Berbasis Risiko", "klasikal", 40, 4_250_000,
             "BPKP Perwakilan Kalimantan Barat", popularity=0.6, quality=1.05, targets=_t(("TKN-AUD", 2, 3))),
    Training("PLT-LEGAL-DRAFTING", "Legal Drafting Produk Hukum Daerah", "klasikal", 40, 4_000_000,
             "Kementerian Hukum (Kanwil Kalimantan Barat)", popularity=0.6, quality=1.0,
             targets=_t(("TKN-HKM", 1, 3))),
    Training("PLT-SIASN", "Manajemen ASN dan SIASN", "klasikal", 32, 3_000_000, "BKN", popularity=0.8,
             quality=1.0, targets=_t(("TKN-SDM", 1, 2))),
    Training("PLT-ANJAB-ABK", "Analisis Jabatan dan Analisis Beban Kerja", "workshop", 24, 2_500_000, BPSDM,
             popularity=0.6, quality=1.0, targets=_t(("TKN-SDM", 2, 4))),
    Training("PLT-ASSESSOR", "Pelatihan Asesor Kompetensi (Metode Assessment Center)", "klasikal", 56, 7_500_000,
             "BKN", AHLI + ";pengawas", popularity=0.3, quality=1.1, targets=_t(("TKN-SDM", 3, 4))),
    Training("PLT-ARSIP-DINAMIS", "Pengelolaan Arsip Dinamis", "klasikal", 32, 2_750_000, "ANRI", popularity=0.8,
             quality=1.0, targets=_t(("TKN-ADM", 1, 3))),
    Training("PLT-SRIKANDI", "Tata Naskah Dinas Elektronik (SRIKANDI)", "e_learning", 8, 0, "ANRI", popularity=1.4,
             quality=0.9, targets=_t(("TKN-ADM", 1, 2))),
    # --- IT and public communication --------------------------------------------------------------------
    Training("PLT-SPBE", "Bimtek SPBE dan Tata Kelola TI", "klasikal", 32, 3_000_000,
             "Dinas Komunikasi dan Informatika Kota Pontianak", popularity=0.7, quality=1.0,
             targets=_t(("TKN-TIK", 1, 2))),
    Training("PLT-ARSITEKTUR-SPBE", "Arsitektur dan Manajemen SPBE Lanjutan", "workshop", 24, 3_500_000,
             "Komdigi", STRUKTURAL + ";" + AHLI, popularity=0.4, quality=1.0, targets=_t(("TKN-TIK", 3, 4))),
    Training("PLT-KEAMANAN-INFORMASI", "Keamanan Informasi dan Siber", "klasikal", 40, 4_500_000, "BSSN",
             popularity=0.5, quality=1.05, targets=_t(("TKN-KAM", 2, 3))),
    Training("PLT-DATA-ANALYTICS", "Data Analytics untuk Pemerintahan (Digital Talent Scholarship)", "e_learning",
             40, 0, "Komdigi (Digital Talent Scholarship)", popularity=0.8, quality=1.0,
             targets=_t(("TKN-DAT", 1, 3), ("TKN-TIK", 1, 2, 0.4))),
    Training("PLT-KEHUMASAN", "Kehumasan dan Manajemen Media Sosial Pemerintah", "workshop", 16, 1_750_000,
             "Komdigi", popularity=0.6, quality=1.0, targets=_t(("TKN-HUM", 1, 3), ("KOM", 2, 3, 0.4))),
    # --- education ----------------------------------------------------------------------------------------
    Training("PLT-KURIKULUM-MERDEKA", "Pelatihan Implementasi Kurikulum Merdeka", "blended", 32, 1_500_000,
             "Kemendikdasmen (BGP Kalimantan Barat)", GURU, popularity=1.3, quality=1.0,
             targets=_t(("TKN-KUR", 1, 2), ("TKN-PED", 1, 2, 0.5))),
    Training("PLT-MERDEKA-MENGAJAR", "Pembelajaran Berdiferensiasi (Platform Merdeka Mengajar)", "e_learning", 20, 0,
             "Kemendikdasmen", GURU, popularity=1.6, quality=0.9, targets=_t(("TKN-PED", 1, 2))),
    Training("PLT-GURU-PENGGERAK", "Pendidikan Guru Penggerak", "blended", 310, 0,
             "Kemendikdasmen (BGP Kalimantan Barat)", GURU, popularity=0.35, quality=1.1,
             targets=_t(("TKN-PED", 2, 3), ("PDO", 2, 3, 0.6), ("MP", 2, 3, 0.5))),
    Training("PLT-ASESMEN-AKM", "Asesmen Pembelajaran dan Asesmen Nasional", "klasikal", 24, 1_250_000,
             "Dinas Pendidikan dan Kebudayaan Kota Pontianak", GURU, popularity=0.9, quality=1.0,
             targets=_t(("TKN-ASM", 1, 3))),
    Training("PLT-DEEP-LEARNING", "Workshop Pembelajaran Mendalam", "workshop", 16, 750_000,
             "Dinas Pendidikan dan Kebudayaan Kota Pontianak", GURU, popularity=1.0, quality=1.0,
             targets=_t(("TKN-PED", 2, 3))),
    Training("PLT-SUPERVISI-AKADEMIK", "Coaching Supervisi Akademik", "coaching", 16, 500_000,
             "Dinas Pendidikan dan Kebudayaan Kota Pontianak", GURU, popularity=0.6, quality=1.1,
             targets=_t(("TKN-PED", 3, 4), ("TKN-MPS", 3, 4, 0.6))),
    Training("PLT-SEMINAR-PENDIDIKAN", "Seminar Pendidikan Nasional", "seminar", 8, 250_000,
             "PGRI Kota Pontianak", GURU, popularity=0.9, quality=0.8, targets=_t(("TKN-PED", 1, 3))),
    Training("PLT-MANAJEMEN-SEKOLAH", "Manajemen Berbasis Sekolah dan Kepemimpinan Pembelajaran", "klasikal", 40,
             3_000_000, "Kemendikdasmen (BGP Kalimantan Barat)", "fungsional_ahli_madya;fungsional_ahli_muda",
             popularity=0.5, quality=1.0, targets=_t(("TKN-MPS", 2, 4), ("PK", 2, 3, 0.5))),
    # --- health --------------------------------------------------------------------------------------------
    Training("PLT-BTCLS", "Basic Trauma Cardiac Life Support (BTCLS)", "klasikal", 50, 3_750_000,
             "Bapelkes Provinsi Kalimantan Barat", FUNGSIONAL, popularity=0.8, quality=1.05,
             targets=_t(("TKN-GAD", 1, 3))),
    Training("PLT-ACLS", "Advanced Cardiac Life Support (ACLS)", "klasikal", 40, 5_500_000,
             "RSUD Sultan Syarif Mohamad Alkadrie (diklat)", AHLI, popularity=0.4, quality=1.05,
             targets=_t(("TKN-GAD", 3, 4), ("TKN-MED", 3, 4, 0.5))),
    Training("PLT-ASKEP-SDKI", "Asuhan Keperawatan Berbasis SDKI, SLKI dan SIKI", "klasikal", 32, 2_500_000,
             "RSUD Sultan Syarif Mohamad Alkadrie (diklat)", FUNGSIONAL, popularity=1.0, quality=1.0,
             targets=_t(("TKN-KEP", 1, 2))),
    Training("PLT-MANAJEMEN-KEPERAWATAN", "Manajemen Keperawatan (Kepala Ruang)", "klasikal", 40, 4_000_000,
             "Bapelkes Provinsi Kalimantan Barat", FUNGSIONAL, popularity=0.5, quality=1.05,
             targets=_t(("TKN-KEP", 3, 4), ("PDO", 2, 3, 0.4))),
    Training("PLT-APN", "Asuhan Persalinan Normal (APN)", "klasikal", 40, 5_000_000,
             "Bapelkes Provinsi Kalimantan Barat", FUNGSIONAL, popularity=0.8, quality=1.05,
             targets=_t(("TKN-BID", 1, 3))),
    Training("PLT-PONED", "Pelayanan Obstetri Neonatal Emergensi Dasar (PONED)", "klasikal", 60, 12_000_000,
             "Bapelkes Provinsi Kalimantan Barat", FUNGSIONAL, popularity=0.4, quality=1.1,
             targets=_t(("TKN-BID", 3, 4), ("TKN-GAD", 2, 3, 0.6))),
    Training("PLT-KEFARMASIAN", "Pelayanan Kefarmasian di Puskesmas", "klasikal", 30, 2_500_000,
             "Kemenkes (Plataran Sehat)", FUNGSIONAL, popularity=0.8, quality=1.0, targets=_t(("TKN-FAR", 1, 3))),
    Training("PLT-PPI", "Pencegahan dan Pengendalian Infeksi (PPI)", "e_learning", 20, 0,
             "Kemenkes (Plataran Sehat)", popularity=1.0, quality=0.9,
             targets=_t(("TKN-KEP", 1, 2, 0.6), ("TKN-KMS", 1, 2))),
    Training("PLT-SURVEILANS", "Surveilans Epidemiologi", "klasikal", 40, 3_500_000,
             "Bapelkes Provinsi Kalimantan Barat", popularity=0.5, quality=1.0, targets=_t(("TKN-KMS", 2, 3))),
    Training("PLT-STUNTING", "Percepatan Penurunan Stunting", "workshop", 24, 1_500_000, "Dinas Kesehatan Kota Pontianak",
             popularity=0.8, quality=0.9, targets=_t(("TKN-KMS", 1, 3), ("TKN-BID", 2, 3, 0.5))),
    Training("PLT-LAB-PUSKESMAS", "Pemeriksaan Laboratorium Dasar Puskesmas", "klasikal", 32, 3_000_000,
             "Bapelkes Provinsi Kalimantan Barat", FUNGSIONAL, popularity=0.6, quality=1.0,
             targets=_t(("TKN-PNJ", 1, 3))),
    Training("PLT-REKAM-MEDIS-ELEKTRONIK", "Rekam Medis Elektronik", "e_learning", 16, 0, "Kemenkes (Plataran Sehat)",
             popularity=0.8, quality=0.9, targets=_t(("TKN-RMK", 1, 3))),
    Training("PLT-MANAJEMEN-PUSKESMAS", "Manajemen Puskesmas", "klasikal", 40, 4_000_000,
             "Bapelkes Provinsi Kalimantan Barat", "pengawas;administrator;fungsional_ahli_muda;fungsional_ahli_madya",
             popularity=0.5, quality=1.0, targets=_t(("TKN-KMS", 2, 4), ("PK", 2, 3, 0.5))),
    Training("PLT-SEMINAR-KESEHATAN", "Seminar Update Tata Laksana Penyakit Tropis", "seminar", 8, 500_000,
             "IDI Cabang Pontianak", popularity=0.6, quality=0.8, targets=_t(("TKN-MED", 2, 4))),
    Training("PLT-MAGANG-RS", "Magang Pelayanan Klinis di RS Rujukan", "magang", 120, 9_500_000,
             "RSUD dr. Soedarso", AHLI + ";fungsional_mahir;fungsional_penyelia", popularity=0.25, quality=1.0,
             targets=_t(("TKN-MED", 2, 4, 0.8), ("TKN-KEP", 2, 4, 0.8))),
    # --- technical services: public works, transport, environment, social, population, licences, order ---
    Training("PLT-KONSTRUKSI-K3", "Pengawasan Konstruksi dan K3", "klasikal", 40, 4_000_000,
             "Kementerian PU (BPSDM PU)", popularity=0.7, quality=1.0, targets=_t(("TKN-KON", 1, 3))),
    Training("PLT-TATA-RUANG-GIS", "Perencanaan Tata Ruang dan Sistem Informasi Geografis", "klasikal", 40,
             4_000_000, "Kementerian ATR/BPN", popularity=0.6, quality=1.0, targets=_t(("TKN-RUA", 1, 3))),
    Training("PLT-LALU-LINTAS", "Manajemen dan Rekayasa Lalu Lintas", "klasikal", 32, 3_500_000,
             "Kemenhub (BPSDM Perhubungan)", popularity=0.7, quality=1.0, targets=_t(("TKN-LLA", 1, 3))),
    Training("PLT-SAMPAH", "Pengelolaan Sampah dan Bank Sampah", "klasikal", 24, 2_000_000,
             "KLH (BPSDM Lingkungan Hidup)", popularity=0.7, quality=1.0, targets=_t(("TKN-LHK", 1, 2))),
    Training("PLT-DOKUMEN-LINGKUNGAN", "Penilaian Dokumen Lingkungan (AMDAL, UKL-UPL)", "klasikal", 40, 4_500_000,
             "KLH (BPSDM Lingkungan Hidup)", "pengawas;administrator;" + AHLI, popularity=0.4, quality=1.05,
             targets=_t(("TKN-LHK", 2, 4))),
    Training("PLT-DTKS", "Bimtek Data Terpadu Kesejahteraan Sosial", "klasikal", 24, 2_000_000, "Kemensos",
             popularity=0.7, quality=1.0, targets=_t(("TKN-SOS", 1, 3))),
    Training("PLT-PPA", "Perlindungan Perempuan dan Anak", "klasikal", 32, 2_750_000, "KemenPPPA", popularity=0.6,
             quality=1.0, targets=_t(("TKN-PPA", 1, 3))),
    Training("PLT-SIAK", "Bimtek Administrasi Kependudukan dan SIAK Terpusat", "klasikal", 24, 2_500_000,
             "Ditjen Dukcapil Kemendagri", popularity=0.9, quality=1.0, targets=_t(("TKN-DUK", 1, 2))),
    Training("PLT-DATA-KEPENDUDUKAN", "Pemanfaatan Data Kependudukan", "workshop", 16, 2_000_000,
             "Ditjen Dukcapil Kemendagri", popularity=0.5, quality=1.0,
             targets=_t(("TKN-DUK", 3, 4), ("TKN-DAT", 2, 3, 0.5))),
    Training("PLT-OSS-RBA", "Bimtek OSS Berbasis Risiko", "klasikal", 24, 2_500_000, "Kementerian Investasi/BKPM",
             popularity=0.8, quality=1.0, targets=_t(("TKN-IZN", 1, 3))),
    Training("PLT-PEMERINTAHAN-KELURAHAN", "Penyelenggaraan Pemerintahan Kecamatan dan Kelurahan", "klasikal", 32,
             2_500_000, "Kemendagri (BPSDM)", popularity=0.8, quality=1.0, targets=_t(("TKN-PEM", 1, 3))),
    Training("PLT-PEMBERDAYAAN", "Pemberdayaan Masyarakat dan Musrenbang", "workshop", 16, 1_250_000, INTERNAL,
             popularity=0.7, quality=0.9, targets=_t(("TKN-PEM", 2, 3), ("PP", 2, 3, 0.4))),
    Training("PLT-POLPP-DASAR", "Diklat Dasar Polisi Pamong Praja", "klasikal", 140, 6_000_000,
             "Kemendagri (BPSDM)", KETERAMPILAN + ";fungsional_ahli_pertama;pelaksana", popularity=0.6,
             quality=1.0, targets=_t(("TKN-TRB", 1, 2))),
    Training("PLT-PPNS", "Diklat Penyidik Pegawai Negeri Sipil (PPNS)", "klasikal", 400, 27_500_000,
             "Kementerian Hukum (BPSDM Hukum)", FUNGSIONAL + ";pengawas", "pns", popularity=0.15, quality=1.0,
             targets=_t(("TKN-TRB", 2, 4), ("TKN-HKM", 1, 2, 0.5))),
    Training("PLT-PENANGGULANGAN-BENCANA", "Manajemen Penanggulangan Bencana", "klasikal", 40, 3_750_000, "BNPB",
             popularity=0.6, quality=1.0, targets=_t(("TKN-BEN", 1, 3))),
    Training("PLT-SIMULASI-BENCANA", "Simulasi Tanggap Darurat Bencana", "workshop", 16, 1_000_000,
             "Badan Penanggulangan Bencana Daerah Kota Pontianak", popularity=0.6, quality=0.9,
             targets=_t(("TKN-BEN", 1, 2))),
    Training("PLT-UMKM", "Pendampingan dan Pengembangan UMKM", "klasikal", 32, 2_750_000,
             "Kementerian Koperasi dan UKM", popularity=0.7, quality=1.0, targets=_t(("TKN-EKO", 1, 3))),
    Training("PLT-KETAHANAN-PANGAN", "Ketahanan Pangan dan Pertanian Perkotaan", "klasikal", 32, 2_750_000,
             "Kementerian Pertanian (BPPSDMP)", popularity=0.7, quality=1.0, targets=_t(("TKN-PGN", 1, 3))),
    Training("PLT-PARIWISATA", "Pengembangan Destinasi dan Ekonomi Kreatif", "workshop", 24, 2_500_000,
             "Kemenparekraf", popularity=0.6, quality=1.0, targets=_t(("TKN-PAR", 1, 3))),
)
