// Labels in Indonesian (default) and English, and number/date formatting for the chosen language.
// The API's own sentences (explanations, reasons, what-if summaries) come translated by `lang=`.

const STRINGS = {
  id: {
    app_title: "Kompetensi ASN",
    app_subtitle: "Perencanaan pengembangan kompetensi",
    skip_to_content: "Langsung ke isi",
    nav_label: "Halaman",
    nav_employee: "Pegawai",
    nav_unit: "Unit",
    nav_plan: "Rencana",
    change_key: "Ganti kunci",
    lang_switch: "English",
    key_title: "Masukkan kunci API",
    key_help: "Kunci API diberikan oleh admin BKPSDM (peran perencana). Kunci hanya disimpan selama tab ini terbuka.",
    key_label: "Kunci API",
    key_submit: "Masuk",
    key_invalid: "Kunci API tidak valid. Periksa kembali dan coba lagi.",
    key_expired: "Kunci API tidak diterima. Masukkan kunci API lagi.",
    key_checking: "Memeriksa kunci…",
    model_info: "Model v{version} · data per {date}",
    model_missing: "Model belum dimuat di server: hasil belum bisa ditampilkan.",
    loading: "Memuat…",
    computing: "Menghitung…",

    // Errors
    err_network: "Tidak dapat menghubungi server. Periksa koneksi lalu coba lagi.",
    err_401: "Kunci API tidak valid atau sudah dicabut.",
    err_403: "Kunci API ini tidak berhak membuka fitur ini (perlu peran perencana).",
    err_404: "Data tidak ditemukan.",
    err_422: "Isian tidak valid: {fields}.",
    err_503: "Model atau data belum dimuat di server. Coba lagi beberapa saat lagi.",
    err_500: "Terjadi kesalahan di server. Coba lagi; jika berulang, hubungi admin.",
    err_nip_not_found: "NIP tidak ditemukan.",
    err_unit_not_found: "Unit tidak ditemukan.",
    err_training_not_found: "Kode pelatihan tidak ditemukan.",
    err_position_not_found: "Kode jabatan tidak ditemukan.",
    err_plans_missing: "Fitur rencana anggaran belum tersedia di server ini.",

    // Employee page
    emp_title: "Pegawai",
    emp_search_label: "NIP (18 digit)",
    emp_search_button: "Cari",
    emp_search_help: "Ketik NIP pegawai, lalu tekan Enter.",
    emp_nip_invalid: "NIP harus 18 digit angka.",
    emp_empty: "Cari pegawai berdasarkan NIP untuk melihat kesenjangan kompetensi, alasannya, dan rekomendasi pelatihan.",
    emp_profile: "Profil",
    emp_unit: "Unit kerja",
    emp_position: "Jabatan",
    emp_position_type: "Jenis jabatan",
    emp_grade: "Golongan",
    emp_employment: "Status kepegawaian",
    emp_education: "Pendidikan",
    emp_years: "Masa kerja",
    emp_years_value: "{n} tahun",
    emp_status: "Status",
    emp_jp: "JP tahun {year}",
    emp_jp_value: "{done} dari {right} JP",
    emp_jp_met: "hak 20 JP terpenuhi",
    emp_jp_not_met: "kurang {n} JP",
    emp_open_unit: "Lihat unit ini",
    gaps_title: "Kesenjangan kompetensi",
    gaps_intro: "Prediksi level {months} bulan ke depan tanpa pelatihan tambahan, dengan rentang 80%, dibandingkan standar jabatan.",
    gaps_total: "Total kesenjangan: {value} level",
    gaps_none: "Jabatan ini tidak memiliki standar kompetensi.",
    gaps_chart_label: "Grafik prediksi level per kompetensi dengan rentang dan standar",
    col_competency: "Kompetensi",
    col_current: "Saat ini",
    col_predicted: "Prediksi",
    col_interval: "Rentang 80%",
    col_required: "Standar",
    col_gap: "Kesenjangan",
    col_jpm: "JPM",
    thin_evidence: "bukti tipis",
    thin_evidence_help: "Data penilaian sedikit atau lama: perkiraan ini kurang pasti.",
    never_assessed: "belum dinilai",
    why: "Mengapa?",
    why_title: "Mengapa prediksi {name} {value}?",
    base_value: "Nilai dasar model: {value} level.",
    evidence: "Data yang dipakai",
    trace_predicted: "Prediksi (rentang 80%)",
    trace_required: "Standar jabatan",
    trace_current: "Level saat ini",
    axis_level: "Level (1–5)",
    band_memenuhi_syarat: "Memenuhi syarat",
    band_masih_memenuhi_syarat: "Masih memenuhi syarat",
    band_kurang_memenuhi_syarat: "Kurang memenuhi syarat",
    recs_title: "Rekomendasi pelatihan",
    recs_empty: "Tidak ada pelatihan yang direkomendasikan.",
    rec_gain: "Perkiraan penurunan kesenjangan",
    rec_cost: "Biaya",
    rec_jp: "Durasi",
    rec_add: "Coba di what-if",
    rec_added: "Sudah di what-if",
    rec_evidence: "{n} peserta sebanding sebelumnya",
    whatif_title: "What-if: coba pelatihan atau jabatan lain",
    whatif_intro: "Tambahkan atau hapus pelatihan; perubahan prediksi langsung dihitung.",
    whatif_plan: "Pelatihan yang dicoba",
    whatif_plan_empty: "Belum ada pelatihan yang dicoba.",
    whatif_pick: "Pilih pelatihan",
    whatif_pick_none: "— pilih —",
    whatif_code: "atau kode pelatihan",
    whatif_add: "Tambah",
    whatif_remove: "Hapus {title}",
    whatif_position: "Coba jabatan lain (kode jabatan, kosongkan untuk jabatan sekarang)",
    whatif_position_apply: "Terapkan",
    whatif_empty: "Tambahkan pelatihan atau coba jabatan lain untuk melihat perubahan prediksi.",
    whatif_total: "Total kesenjangan",
    whatif_before: "Sebelum",
    whatif_after: "Sesudah",
    whatif_change: "Perubahan",
    whatif_no_change: "Rencana ini tidak mengubah prediksi kesenjangan.",
    whatif_chart_label: "Grafik kesenjangan per kompetensi sebelum dan sesudah skenario",
    whatif_already: "Pelatihan ini sudah ada di daftar.",
    whatif_max: "Paling banyak 20 pelatihan.",
    col_level_change: "Perubahan level",
    col_gap_before: "Kesenjangan sebelum",
    col_gap_after: "Kesenjangan sesudah",

    // Unit page
    unit_title: "Unit",
    unit_search_label: "Kode unit",
    unit_search_button: "Tampilkan",
    unit_search_help: "Kode unit sesuai data kepegawaian (kolom unit_id). Unit yang sudah dibuka muncul sebagai saran.",
    unit_empty: "Masukkan kode unit (atau buka dari halaman pegawai) untuk melihat kesenjangan unit.",
    unit_employees: "{n} pegawai aktif",
    unit_heatmap: "Rata-rata kesenjangan per kompetensi dan jenis jabatan",
    unit_heatmap_label: "Peta panas rata-rata kesenjangan, kompetensi × jenis jabatan",
    unit_heatmap_empty: "Belum ada data kesenjangan per jenis jabatan.",
    unit_jpm: "Kesesuaian jabatan (JPM)",
    unit_jp: "Kepatuhan 20 JP tahun {year}",
    unit_jp_value: "{n} dari {total} pegawai ({share}) sudah memenuhi 20 JP.",
    unit_competencies: "Kesenjangan per kompetensi",
    col_employees: "Pegawai",
    col_mean_gap: "Rata-rata kesenjangan",
    col_below: "Di bawah standar",
    unit_top: "Pelatihan yang paling banyak direkomendasikan",
    unit_top_empty: "Tidak ada pelatihan yang direkomendasikan untuk unit ini.",
    col_training: "Pelatihan",
    col_recommended_to: "Direkomendasikan untuk",
    col_total_gain: "Total perkiraan penurunan kesenjangan",
    unit_plan: "Buat rencana untuk unit ini",
    culture_title: "Budaya belajar",
    culture_caption: "Budaya belajar unit dibandingkan dengan unit lain di kota",
    culture_completion: "Pelatihan yang diselesaikan ({months} bulan terakhir)",
    culture_no_training: "Pegawai tanpa pelatihan selesai ({months} bulan terakhir)",
    culture_jp_year: "Memenuhi {jp} JP tahun {year}",
    culture_jp_year_so_far: "Memenuhi {jp} JP tahun {year} (sejauh ini)",
    culture_lower_better: "makin rendah makin baik",
    culture_hidden: "disembunyikan",
    culture_hidden_note: "Angka yang disembunyikan didukung kurang dari {n} pegawai atau pendaftaran pelatihan, agar tidak ada orang yang dapat dikenali.",
    culture_percentile_value: "persentil {p} dari {n} unit",
    culture_legend: "Rentang kota: kuartil 1 · median · kuartil 3 dari unit-unit di kota. Pada batang, pita abu-abu adalah rentang kuartil, garis tipis mediannya, dan penanda biru unit ini.",
    col_indicator: "Indikator",
    col_this_unit: "Unit ini",
    col_city_range: "Rentang kota (K1 · median · K3)",
    col_city_position: "Posisi di kota",
    col_city_bar: "Dibandingkan kota",
    axis_gap: "Kesenjangan (level)",
    axis_employees: "Pegawai",

    // Plan page
    plan_title: "Rencana anggaran pelatihan",
    plan_intro: "Tentukan anggaran; sistem memilih pelatihan untuk pegawai yang memberi penurunan kesenjangan terbesar.",
    plan_budget: "Anggaran (Rp)",
    plan_budget_invalid: "Isi anggaran dengan angka rupiah, mis. 250.000.000.",
    plan_units: "Unit (kode, pisahkan dengan koma; kosong = semua unit)",
    plan_max_trainings: "Maks. pelatihan per pegawai",
    plan_max_jp: "Maks. JP per pegawai (kosong = tanpa batas)",
    plan_jp_priority: "Utamakan pegawai yang belum memenuhi 20 JP tahun ini",
    plan_curve: "Tampilkan kurva anggaran",
    plan_advanced: "Opsi lanjutan",
    plan_horizon: "Horizon prediksi (bulan)",
    plan_include: "Utamakan NIP berikut (satu per baris)",
    plan_exclude: "Kecualikan NIP berikut (satu per baris)",
    plan_exclude_trainings: "Kecualikan kode pelatihan (pisahkan dengan koma)",
    plan_submit: "Buat rencana",
    plan_empty: "Isi anggaran lalu tekan \u201cBuat rencana\u201d.",
    plan_status: "Status",
    plan_solver_time: "{seconds} detik",
    plan_gap: "selisih optimalitas {gap}",
    status_optimal: "Optimal",
    status_time_limit: "Batas waktu tercapai (solusi terbaik yang ditemukan)",
    status_greedy_fallback: "Solusi cepat (greedy)",
    status_infeasible: "Tidak ada solusi",
    status_empty: "Tidak ada alokasi",
    plan_total_cost: "Total biaya",
    plan_total_gain: "Total perkiraan penurunan kesenjangan",
    plan_total_employees: "Pegawai mendapat pelatihan",
    plan_total_standard: "Pegawai mencapai standar",
    plan_of_budget: "{share} dari anggaran",
    plan_allocations: "Alokasi pelatihan",
    plan_allocations_empty: "Anggaran ini tidak cukup untuk pelatihan apa pun yang menutup kesenjangan.",
    plan_download: "Unduh CSV",
    plan_shown: "Menampilkan {shown} dari {total} baris; unduh CSV untuk semuanya.",
    plan_curve_title: "Kurva anggaran: total penurunan kesenjangan menurut anggaran",
    plan_curve_label: "Grafik total perkiraan penurunan kesenjangan terhadap anggaran",
    plan_curve_point: "Anggaran ini",
    axis_budget: "Anggaran (Rp)",
    axis_total_gain: "Penurunan kesenjangan (level)",
    plan_scope: "Cakupan: {employees} pegawai aktif di {units} unit; {candidates} pasangan pegawai–pelatihan dipertimbangkan.",
    plan_total_jp: "Pegawai mencapai 20 JP",
    plan_budget_left: "Sisa anggaran",
    plan_unmet: "{n} NIP yang diutamakan tidak dapat diberi pelatihan dalam batas ini: {nips}.",
    plan_notes: "Catatan teknis solver",
    col_nip: "NIP",
    col_expected_gain: "Perkiraan penurunan kesenjangan",
    col_cost: "Biaya",
    col_jp: "JP",
  },
  en: {
    app_title: "ASN Competency",
    app_subtitle: "Competency development planning",
    skip_to_content: "Skip to content",
    nav_label: "Pages",
    nav_employee: "Employee",
    nav_unit: "Unit",
    nav_plan: "Plan",
    change_key: "Change key",
    lang_switch: "Bahasa Indonesia",
    key_title: "Enter your API key",
    key_help: "API keys are issued by the BKPSDM admin (planner role). The key is kept only while this tab is open.",
    key_label: "API key",
    key_submit: "Sign in",
    key_invalid: "This API key is not valid. Check it and try again.",
    key_expired: "The API key was not accepted. Please enter it again.",
    key_checking: "Checking the key…",
    model_info: "Model v{version} · data as of {date}",
    model_missing: "No model is loaded on the server: results cannot be shown yet.",
    loading: "Loading…",
    computing: "Computing…",

    err_network: "Cannot reach the server. Check the connection and try again.",
    err_401: "The API key is not valid or has been revoked.",
    err_403: "This API key may not use this feature (it needs the planner role).",
    err_404: "Not found.",
    err_422: "Invalid input: {fields}.",
    err_503: "The model or the data is not loaded on the server yet. Try again shortly.",
    err_500: "The server had an error. Try again; if it persists, contact the admin.",
    err_nip_not_found: "NIP not found.",
    err_unit_not_found: "Unit not found.",
    err_training_not_found: "Training code not found.",
    err_position_not_found: "Position code not found.",
    err_plans_missing: "Budget planning is not available on this server yet.",

    emp_title: "Employee",
    emp_search_label: "NIP (18 digits)",
    emp_search_button: "Search",
    emp_search_help: "Type the employee's NIP and press Enter.",
    emp_nip_invalid: "A NIP has exactly 18 digits.",
    emp_empty: "Search an employee by NIP to see their competency gaps, why, and recommended trainings.",
    emp_profile: "Profile",
    emp_unit: "Unit",
    emp_position: "Position",
    emp_position_type: "Position type",
    emp_grade: "Grade",
    emp_employment: "Employment",
    emp_education: "Education",
    emp_years: "Years of service",
    emp_years_value: "{n} years",
    emp_status: "Status",
    emp_jp: "JP in {year}",
    emp_jp_value: "{done} of {right} JP",
    emp_jp_met: "20 JP right met",
    emp_jp_not_met: "{n} JP short",
    emp_open_unit: "Open this unit",
    gaps_title: "Competency gaps",
    gaps_intro: "Predicted level {months} months ahead without further training, with its 80% interval, against the position's standard.",
    gaps_total: "Total gap: {value} levels",
    gaps_none: "This position has no competency standard.",
    gaps_chart_label: "Chart of the predicted level per competency with its interval and the standard",
    col_competency: "Competency",
    col_current: "Current",
    col_predicted: "Predicted",
    col_interval: "80% interval",
    col_required: "Standard",
    col_gap: "Gap",
    col_jpm: "JPM",
    thin_evidence: "thin evidence",
    thin_evidence_help: "Few or old assessments: this estimate is less certain.",
    never_assessed: "never assessed",
    why: "Why?",
    why_title: "Why is {name} predicted at {value}?",
    base_value: "Model base value: {value} levels.",
    evidence: "Data used",
    trace_predicted: "Predicted (80% interval)",
    trace_required: "Position standard",
    trace_current: "Current level",
    axis_level: "Level (1–5)",
    band_memenuhi_syarat: "Meets the requirement",
    band_masih_memenuhi_syarat: "Still meets the requirement",
    band_kurang_memenuhi_syarat: "Below the requirement",
    recs_title: "Recommended trainings",
    recs_empty: "No training is recommended.",
    rec_gain: "Expected gap reduction",
    rec_cost: "Cost",
    rec_jp: "Duration",
    rec_add: "Try in what-if",
    rec_added: "In the what-if",
    rec_evidence: "{n} comparable past participants",
    whatif_title: "What-if: try trainings or another position",
    whatif_intro: "Add or remove trainings; the predicted change is computed at once.",
    whatif_plan: "Trainings being tried",
    whatif_plan_empty: "No training added yet.",
    whatif_pick: "Choose a training",
    whatif_pick_none: "— choose —",
    whatif_code: "or a training code",
    whatif_add: "Add",
    whatif_remove: "Remove {title}",
    whatif_position: "Try another position (position code; empty for the current one)",
    whatif_position_apply: "Apply",
    whatif_empty: "Add a training or try another position to see the predicted change.",
    whatif_total: "Total gap",
    whatif_before: "Before",
    whatif_after: "After",
    whatif_change: "Change",
    whatif_no_change: "This plan does not change the predicted gaps.",
    whatif_chart_label: "Chart of the gap per competency before and after the scenario",
    whatif_already: "This training is already in the list.",
    whatif_max: "At most 20 trainings.",
    col_level_change: "Level change",
    col_gap_before: "Gap before",
    col_gap_after: "Gap after",

    unit_title: "Unit",
    unit_search_label: "Unit code",
    unit_search_button: "Show",
    unit_search_help: "The unit code of the HR data (column unit_id). Units opened before are suggested.",
    unit_empty: "Enter a unit code (or open it from an employee) to see the unit's gaps.",
    unit_employees: "{n} active employees",
    unit_heatmap: "Mean gap by competency and position type",
    unit_heatmap_label: "Heat-map of the mean gap, competency × position type",
    unit_heatmap_empty: "No gaps by position type yet.",
    unit_jpm: "Job-person match (JPM)",
    unit_jp: "20 JP compliance in {year}",
    unit_jp_value: "{n} of {total} employees ({share}) have completed 20 JP.",
    unit_competencies: "Gaps per competency",
    col_employees: "Employees",
    col_mean_gap: "Mean gap",
    col_below: "Below standard",
    unit_top: "Most recommended trainings",
    unit_top_empty: "No training is recommended for this unit.",
    col_training: "Training",
    col_recommended_to: "Recommended to",
    col_total_gain: "Total expected gap reduction",
    unit_plan: "Plan for this unit",
    culture_title: "Learning culture",
    culture_caption: "The unit's learning culture compared with the city's other units",
    culture_completion: "Trainings completed (last {months} months)",
    culture_no_training: "Staff without a completed training (last {months} months)",
    culture_jp_year: "Reached {jp} JP in {year}",
    culture_jp_year_so_far: "Reached {jp} JP in {year} (so far)",
    culture_lower_better: "lower is better",
    culture_hidden: "hidden",
    culture_hidden_note: "Hidden figures rest on fewer than {n} employees or enrolments, so that no one can be singled out.",
    culture_percentile_value: "percentile {p} of {n} units",
    culture_legend: "City range: 1st quartile · median · 3rd quartile of the city's units. On the bar, the grey band is the quartile range, the thin line its median and the blue marker this unit.",
    col_indicator: "Indicator",
    col_this_unit: "This unit",
    col_city_range: "City range (Q1 · median · Q3)",
    col_city_position: "Standing in the city",
    col_city_bar: "Against the city",
    axis_gap: "Gap (levels)",
    axis_employees: "Employees",

    plan_title: "Training budget plan",
    plan_intro: "Set a budget; the system chooses trainings for employees that reduce the gaps the most.",
    plan_budget: "Budget (Rp)",
    plan_budget_invalid: "Enter the budget in Rupiah, e.g. 250,000,000.",
    plan_units: "Units (codes, comma-separated; empty = all units)",
    plan_max_trainings: "Max. trainings per employee",
    plan_max_jp: "Max. JP per employee (empty = no limit)",
    plan_jp_priority: "First bring employees below 20 JP this year up to 20 JP",
    plan_curve: "Show the budget curve",
    plan_advanced: "Advanced options",
    plan_horizon: "Prediction horizon (months)",
    plan_include: "Prioritise these NIPs (one per line)",
    plan_exclude: "Exclude these NIPs (one per line)",
    plan_exclude_trainings: "Exclude training codes (comma-separated)",
    plan_submit: "Make the plan",
    plan_empty: "Enter a budget and press \u201cMake the plan\u201d.",
    plan_status: "Status",
    plan_solver_time: "{seconds} seconds",
    plan_gap: "optimality gap {gap}",
    status_optimal: "Optimal",
    status_time_limit: "Time limit reached (best solution found)",
    status_greedy_fallback: "Quick solution (greedy)",
    status_infeasible: "No solution",
    status_empty: "No allocation",
    plan_total_cost: "Total cost",
    plan_total_gain: "Total expected gap reduction",
    plan_total_employees: "Employees trained",
    plan_total_standard: "Employees reaching the standard",
    plan_of_budget: "{share} of the budget",
    plan_allocations: "Training allocation",
    plan_allocations_empty: "This budget is too small for any training that closes a gap.",
    plan_download: "Download CSV",
    plan_shown: "Showing {shown} of {total} rows; download the CSV for all of them.",
    plan_curve_title: "Budget curve: total gap reduction by budget",
    plan_curve_label: "Chart of the total expected gap reduction against the budget",
    plan_curve_point: "This budget",
    axis_budget: "Budget (Rp)",
    axis_total_gain: "Gap reduction (levels)",
    plan_scope: "Scope: {employees} active employees in {units} units; {candidates} employee–training pairs considered.",
    plan_total_jp: "Employees reaching 20 JP",
    plan_budget_left: "Budget left",
    plan_unmet: "{n} prioritised NIPs could not be given a training within these limits: {nips}.",
    plan_notes: "Solver notes",
    col_nip: "NIP",
    col_expected_gain: "Expected gap reduction",
    col_cost: "Cost",
    col_jp: "JP",
  },
};

const LOCALES = { id: "id-ID", en: "en-GB" };
const LANG_KEY = "kompetensi.lang";

let current = "id";
try {
  // Read once when the module loads (no network, no side effect beyond choosing the language).
  const saved = sessionStorage.getItem(LANG_KEY);
  if (saved === "en" || saved === "id") current = saved;
} catch (_) {
  // Storage disabled: stay in Indonesian.
}

export function lang() {
  return current;
}

export function setLang(value) {
  current = value === "en" ? "en" : "id";
  try {
    sessionStorage.setItem(LANG_KEY, current);
  } catch (_) {
    // Storage disabled: the choice lasts until the page is reloaded.
  }
  document.documentElement.lang = current;
}

/** The label `key` in the current language, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = STRINGS[current][key] ?? STRINGS.id[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

function numberFormat(options) {
  return new Intl.NumberFormat(LOCALES[current], options);
}

/** A decimal with `digits` fraction digits: 2,4 (id) or 2.4 (en). */
export function num(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return numberFormat({ minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

/** A whole number with thousands separators: 1.250 (id) or 1,250 (en). */
export function int(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return numberFormat({ maximumFractionDigits: 0 }).format(value);
}

/** Rupiah: Rp 1.250.000 (id) or Rp 1,250,000 (en). */
export function idr(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return `Rp ${int(Math.round(value))}`;
}

/** A share 0–1 as a percentage with one decimal: 47,8% (id). */
export function pct(share, digits = 1) {
  if (share === null || share === undefined || Number.isNaN(share)) return "–";
  return `${num(share * 100, digits)}%`;
}

/** An ISO date (YYYY-MM-DD) as 30 Juni 2026 / 30 June 2026. */
export function day(iso) {
  if (!iso) return "–";
  const date = new Date(`${String(iso).slice(0, 10)}T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return String(iso);
  return new Intl.DateTimeFormat(LOCALES[current], { dateStyle: "long", timeZone: "UTC" }).format(date);
}

/** Plotly's `separators` (decimal, thousands) for the current language. */
export function plotSeparators() {
  return current === "id" ? ",." : ".,";
}

/** Parse a Rupiah amount typed by a person ("250.000.000", "Rp 250,000,000", "250000000"). */
export function parseIdr(text) {
  const digits = String(text ?? "").replace(/[^0-9]/g, "");
  if (!digits) return null;
  const value = Number(digits);
  return Number.isSafeInteger(value) ? value : null;
}

/** A code as words: fungsional_ahli_madya → Fungsional ahli madya. */
export function humanize(code) {
  if (!code) return "–";
  const words = String(code).replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Employment and education codes in their usual upper-case notation (pns → PNS, s1 → S1). */
export function upper(code) {
  return code ? String(code).toUpperCase() : "–";
}

/** Fill every element with `data-i18n` (text) or `data-i18n-aria-label` (aria-label) in `root`. */
export function translateStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  }
}
