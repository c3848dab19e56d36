-- National-scale benchmark: the hand-written DuckDB equivalent of the library's
-- harmonize -> derive rates -> aggregate -> store, from the same Parquet input to the same
-- partitioned Parquet output. benchmarks/national_scale.py runs it with 2 threads.
--
-- Inputs (views over the generated Parquet files, made by national_scale.py):
--   source(PRO_COM, CODICE, ANNO, VALORE)      the source table: Istat municipality code
--                                               without leading zeros, source indicator code,
--                                               year (stocks on 1 January), value
--   indicators(id, source_code, domain, unit, aggregation)    the catalogue
--   formulas(target, numerator, denominator, multiplier, unit) rates = num / den * multiplier
--   hierarchy(municipality, province, region, nuts1, country) the territory registry
-- Output: the folder :out, one sub-folder domain=<domain> per domain (written by COPY below).

-- Statuses: the first of P E F U B D I N found among the parts wins, else A (as in derive/).
CREATE MACRO status_rank(s) AS coalesce(nullif(instr('PEFUBDIN', s), 0), 9);
CREATE MACRO status_of(rank) AS substr('PEFUBDINA', rank, 1);

-- 1. Harmonize: catalogue id from the source code, 6-digit territory code checked against
--    the registry, the year read as a stock on 1 January, unit from the catalogue, rows
--    without a value marked missing (O).
CREATE TEMP TABLE observed AS
SELECT i.id AS indicator,
       h.municipality AS territory,
       strftime(make_date(s.ANNO, 1, 1), '%Y-%m-%d') AS period,
       make_date(s.ANNO, 1, 1) AS period_start,
       s.VALORE AS value,
       i.unit,
       CASE WHEN s.VALORE IS NULL THEN 'O' ELSE 'A' END AS obs_status,
       'F' AS conf_status,
       CAST(NULL AS VARCHAR) AS flags,
       'national' AS source,
       'harmonize' AS lineage
FROM source s
JOIN indicators i ON i.source_code = s.CODICE
JOIN hierarchy h ON h.municipality = lpad(CAST(s.PRO_COM AS VARCHAR), 6, '0');

-- 2. Municipal rates: every numerator row meets its denominator on territory and period;
--    a missing or zero denominator gives a missing rate (O), never an infinite one. The
--    denominators (a few population counts) are picked first, so the hash table is small.
CREATE TEMP TABLE municipal_rates AS
WITH denominators AS (
    SELECT * FROM observed WHERE indicator IN (SELECT denominator FROM formulas))
SELECT f.target AS indicator, n.territory, n.period, n.period_start,
       CASE WHEN d.value IS NULL OR d.value = 0 OR n.value IS NULL THEN NULL
            ELSE n.value / d.value * f.multiplier END AS value,
       f.unit,
       CASE WHEN d.value IS NULL OR d.value = 0 OR n.value IS NULL THEN 'O'
            ELSE status_of(least(status_rank(n.obs_status), status_rank(d.obs_status)))
       END AS obs_status,
       CASE WHEN n.conf_status <> 'F' THEN n.conf_status
            ELSE coalesce(d.conf_status, 'F') END AS conf_status,
       CAST(NULL AS VARCHAR) AS flags, 'derive' AS source, 'derive' AS lineage
FROM observed n
JOIN formulas f ON f.numerator = n.indicator
LEFT JOIN denominators d
       ON d.indicator = f.denominator AND d.territory = n.territory AND d.period = n.period;

-- 3. Aggregates of the summed counts at province, region, NUTS 1 and country level. An
--    area is emitted only when every one of its municipalities reported (coverage 1).
CREATE TEMP TABLE areas AS
UNPIVOT (SELECT municipality, province, region, nuts1, country FROM hierarchy)
ON province, region, nuts1, country INTO NAME level VALUE area;

CREATE TEMP TABLE area_sums AS
WITH members AS (SELECT level, area, count(*) AS members FROM areas GROUP BY level, area),
parts AS (
    SELECT o.indicator, a.level, a.area, o.period,
           min(o.period_start) AS period_start,
           sum(o.value) AS value,
           any_value(o.unit) AS unit,
           status_of(min(status_rank(o.obs_status))) AS obs_status,
           CASE WHEN bool_or(o.conf_status = 'N') THEN 'N' ELSE 'F' END AS conf_status,
           count(o.value) AS reported
    FROM observed o
    JOIN indicators i ON i.id = o.indicator AND i.aggregation = 'sum'
    JOIN areas a ON a.municipality = o.territory
    GROUP BY o.indicator, a.level, a.area, o.period)
SELECT p.indicator, p.area AS territory, p.period, p.period_start, p.value, p.unit,
       p.obs_status, p.conf_status,
       CAST(NULL AS VARCHAR) AS flags, 'derive' AS source, 'aggregate' AS lineage
FROM parts p JOIN members m ON m.level = p.level AND m.area = p.area
WHERE p.reported = m.members;

-- 4. Rates of the areas, re-derived from the aggregated numerator and denominator (never
--    an average of municipal rates); both operands must be complete.
CREATE TEMP TABLE area_rates AS
SELECT f.target AS indicator, n.territory, n.period, n.period_start,
       CASE WHEN d.value = 0 OR n.value IS NULL THEN NULL
            ELSE n.value / d.value * f.multiplier END AS value,
       f.unit,
       CASE WHEN d.value = 0 OR n.value IS NULL THEN 'O'
            ELSE status_of(least(status_rank(n.obs_status), status_rank(d.obs_status)))
       END AS obs_status,
       CASE WHEN n.conf_status <> 'F' THEN n.conf_status ELSE d.conf_status END AS conf_status,
       CAST(NULL AS VARCHAR) AS flags, 'derive' AS source, 'aggregate' AS lineage
FROM area_sums n
JOIN formulas f ON f.numerator = n.indicator
JOIN area_sums d
  ON d.indicator = f.denominator AND d.territory = n.territory AND d.period = n.period;

-- 5. Store: one Hive partition per domain.
COPY (
    SELECT o.*, i.domain
    FROM (SELECT * FROM observed
          UNION ALL SELECT * FROM municipal_rates
          UNION ALL SELECT * FROM area_sums
          UNION ALL SELECT * FROM area_rates) o
    JOIN indicators i ON i.id = o.indicator
) TO :out (FORMAT PARQUET, PARTITION_BY (domain), COMPRESSION zstd, FILENAME_PATTERN 'part-{i}');
