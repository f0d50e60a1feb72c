/* tsq-cron.c: cron parsing and next-fire computation.
 *
 * The search works on "civil seconds" (wall-clock time as if it were UTC) and skips by fields
 * (month, day, hour, minute, second), so finding the next fire is a few hundred steps at worst
 * even for "0 0 29 2 *". Each wall-clock candidate is then mapped to real instants with the
 * zone's offsets: none (spring-forward gap), one, or two (autumn repeat).
 */
#define G_LOG_DOMAIN "tsq-cron"

#include "tsq-cron.h"

#include <string.h>

/* clang-format off */
G_DEFINE_QUARK (tsq-cron-error-quark, tsq_cron_error)
/* clang-format on */

#define MAX_EXPR_LEN 1024
#define SECS_PER_DAY 86400
#define SEARCH_LIMIT_SEC ((gint64)5 * 366 * SECS_PER_DAY)

struct _TsqCron
{
  guint64 sec;  /* bits 0-59 */
  guint64 min;  /* bits 0-59 */
  guint32 hour; /* bits 0-23 */
  guint32 dom;  /* bits 1-31 */
  guint32 mon;  /* bits 1-12 */
  guint32 dow;  /* bits 0-6, Sunday = 0 */
  gboolean dom_star;
  gboolean dow_star;
  gboolean wildcard;
  char *text;
};

typedef struct
{
  const char *name;
  int min;
  int max;
  const char *const *names; /* names[i] has value min + i */
} FieldSpec;

static const char *const month_names[]
  = { "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL };
static const char *const dow_names[] = { "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL };

enum
{
  F_SEC,
  F_MIN,
  F_HOUR,
  F_DOM,
  F_MON,
  F_DOW,
};

static const FieldSpec field_specs[] = {
  [F_SEC] = { "second", 0, 59, NULL },       [F_MIN] = { "minute", 0, 59, NULL },
  [F_HOUR] = { "hour", 0, 23, NULL },        [F_DOM] = { "day-of-month", 1, 31, NULL },
  [F_MON] = { "month", 1, 12, month_names }, [F_DOW] = { "day-of-week", 0, 7, dow_names },
};

static const struct
{
  const char *name;
  const char *expr;
} macros[] = {
  { "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
  { "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
  { "@hourly", "0 * * * *" },
};

void
tsq_cron_free (TsqCron *cron)
{
  if (cron == NULL)
    return;
  g_free (cron->text);
  g_free (cron);
}

/* Parses a number or (for month/day-of-week) a 3-letter name at *p; advances *p. */
static gboolean
parse_value (const FieldSpec *spec, const char **p, const char *item, int *out, GError **error)
{
  const char *s = *p;

  if (g_ascii_isdigit (*s))
    {
      gint64 v = 0;
      const char *start = s;

      while (g_ascii_isdigit (*s))
        {
          if (v < 100000)
            v = v * 10 + (*s - '0');
          s++;
        }
      if (v < spec->min || v > spec->max)
        {
          g_set_error (error, TSQ_CRON_ERROR, TSQ_CRON_ERROR_INVALID, "%s: %.*s out of range %d-%d",
                       spec->name, (int)MIN (s - start, 20), start, spec->min, spec->max);
          return FALSE;
        }
      *out = (int)v;
      *p = s;
      return TRUE;
    }
  if (spec->names != NULL && g_ascii_isalpha (s[0]))
    {
      for (guint i = 0; spec->names[i] != NULL; i++)
        {
          if (g_ascii_strncasecmp (s, spec->names[i], 3) == 0 && !g_ascii_isalpha (s[3]))
            {
              *out = spec->min + (int)i;
              *p = s + 3;
              return TRUE;
            }
        }
    }
  g_set_error (error, TSQ_CRON_ERROR, TSQ_CRON_ERROR_INVALID, "%s: invalid value '%s'", spec->name,
               item);
  return FALSE;
}

static gboolean
parse_item (
  const FieldSpec *spec, gboolean allow_question, const char *item, guint64 *mask, GError **error)
{
  const char *p = item;
  int lo, hi, step = 1;
  gboolean ranged = FALSE;

  if (*p == '\0')
    {
      g_set_error (error, TSQ_CRON_ERROR, TSQ_CRON_ERROR_INVALID, "%s: empty list item",
                   spec->name);
      return FALSE;
    }
  if (*p == '*' || *p == '?')
    {
      if (*p == '?' && !allow_question)
        {
          g_set_error (error, TSQ_CRON_ERROR, TSQ_CRON_ERROR_INVALID,
                       "%s: '?' is only allowed in day-of-month and day-of-week", spec->name);
          return FALSE;
        }
      lo = spec->min;
      hi = spec->max == 7 ? 6 : spec->max;
      ranged = TRUE;
      p++;
    }
  else
    {
      if (!parse_value (spec, &p, item, &lo, error))
        return FALSE;
      hi = lo;
      if (*p == '-')
        {
          p++;
          if (!parse_value (spec, &p, item, &hi, error))
            return FALSE;
          ranged = TRUE;
          if (hi < lo)
            {
              g_set_error (error, TSQ_CRON_ERROR, TSQ_CRON_ERROR_INVALID,
                           "%s: range '%s' goes backwards", spec->name, item);
              return FALSE;
            }
        }
    }
  if (*p == '/')
    {
      gint64 v = 0;

      p++;
      if (!g_ascii_isdigit (*p))
        {
          g_set_error (error, TSQ_CRON_ERROR, TSQ_CRON_ERROR_INVALID, "%s: invalid step in '%s'",
                       spec->name, item);
          return FALSE;
        }
      while (g_ascii_isdigit (*p))
        {
          if (v < 100000)
            v = v * 10 + (*p - '0');
          p++;
        }
      if (v < 1 || v > spec->max)
        {
          g_set_error (error, TSQ_CRON_ERROR, TSQ_CRON_ERROR_INVALID,
                       "%s: step %" G_GINT64_FORMAT " out of range 1-%d", spec->name, v, spec->max);
          return FALSE;
        }
      step = (int)v;
      /* "5/15" means 5-max/15, as in croniter and Quartz. */
      if (!ranged)
        hi = spec->max == 7 ? 6 : spec->max;
    }
  if (*p != '\0')
    {
      g_set_error (error, TSQ_CRON_ERROR, TSQ_CRON_ERROR_INVALID, "%s: invalid token '%s'",
                   spec->name, item);
      return FALSE;
    }
  for (int v = lo; v <= hi; v += step)
    *mask |= G_GUINT64_CONSTANT (1) << (spec->max == 7 && v == 7 ? 0 : v);
  return TRUE;
}

static gboolean
parse_field (int field, const char *text, guint64 *mask, GError **error)
{
  const FieldSpec *spec = &field_specs[field];
  g_auto (GStrv) items = g_strsplit (text, ",", -1);

  *mask = 0;
  for (guint i = 0; items[i] != NULL; i++)
    {
      if (!parse_item (spec, field == F_DOM || field == F_DOW, items[i], mask, error))
        return FALSE;
    }
  return TRUE;
}

TsqCron *
tsq_cron_parse (const char *expr, GError **error)
{
  g_autoptr (TsqCron) cron = NULL;
  g_auto (GStrv) fields = NULL;
  g_autofree char *stripped = NULL;
  const char *f[6];
  guint64 masks[6];
  guint n;

  if (expr == NULL || strlen (expr) > MAX_EXPR_LEN)
    {
      g_set_error_literal (error, TSQ_CRON_ERROR, TSQ_CRON_ERROR_INVALID,
                           expr == NULL ? "empty expression" : "expression too long");
      return NULL;
    }
  stripped = g_strstrip (g_strdup (expr));
  for (char *c = stripped; *c; c++)
    if (*c == '\t' || *c == '\n' || *c == '\r')
      *c = ' ';
  fields = g_strsplit (stripped, " ", -1);
  /* Drop the empty strings left by repeated spaces. */
  n = 0;
  for (guint i = 0; fields[i] != NULL; i++)
    {
      if (fields[i][0] == '\0')
        g_free (fields[i]);
      else
        fields[n++] = fields[i];
    }
  fields[n] = NULL;

  if (n >= 1 && fields[0][0] == '@')
    {
      g_autofree char *lower = g_ascii_strdown (fields[0], -1);

      for (guint i = 0; i < G_N_ELEMENTS (macros); i++)
        {
          if (g_str_equal (lower, macros[i].name))
            {
              if (n > 1)
                {
                  g_set_error (error, TSQ_CRON_ERROR, TSQ_CRON_ERROR_INVALID,
                               "unexpected text after %s", fields[0]);
                  return NULL;
                }
              cron = tsq_cron_parse (macros[i].expr, error);
              if (cron != NULL)
                {
                  g_free (cron->text);
                  cron->text = g_steal_pointer (&lower);
                }
              return g_steal_pointer (&cron);
            }
        }
      g_set_error (error, TSQ_CRON_ERROR, TSQ_CRON_ERROR_INVALID, "unknown macro %.40s", fields[0]);
      return NULL;
    }
  if (n != 5 && n != 6)
    {
      g_set_error (error, TSQ_CRON_ERROR, TSQ_CRON_ERROR_INVALID, "expected 5 or 6 fields, got %u",
                   n);
      return NULL;
    }
  f[F_SEC] = n == 6 ? fields[0] : "0";
  for (guint i = 0; i < 5; i++)
    f[F_MIN + i] = fields[n - 5 + i];
  for (int i = F_SEC; i <= F_DOW; i++)
    {
      if (!parse_field (i, f[i], &masks[i], error))
        return NULL;
    }

  cron = g_new0 (TsqCron, 1);
  cron->sec = masks[F_SEC];
  cron->min = masks[F_MIN];
  cron->hour = (guint32)masks[F_HOUR];
  cron->dom = (guint32)masks[F_DOM];
  cron->mon = (guint32)masks[F_MON];
  cron->dow = (guint32)masks[F_DOW];
  cron->dom_star = f[F_DOM][0] == '*' || f[F_DOM][0] == '?';
  cron->dow_star = f[F_DOW][0] == '*' || f[F_DOW][0] == '?';
  cron->wildcard = f[F_SEC][0] == '*' || f[F_MIN][0] == '*' || f[F_HOUR][0] == '*';
  cron->text = g_strjoinv (" ", fields);
  return g_steal_pointer (&cron);
}

char *
tsq_cron_to_string (TsqCron *cron)
{
  g_return_val_if_fail (cron != NULL, NULL);
  return g_strdup (cron->text);
}

gboolean
tsq_cron_is_wildcard (TsqCron *cron)
{
  g_return_val_if_fail (cron != NULL, FALSE);
  return cron->wildcard;
}

/* ---- civil calendar arithmetic (proleptic Gregorian, H. Hinnant's algorithms) ---- */

static gint64
days_from_civil (gint64 y, int m, int d)
{
  gint64 era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void
civil_from_days (gint64 z, gint64 *y, int *m, int *d)
{
  gint64 era, doe, yoe, doy, mp;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int
days_in_month (gint64 y, int m)
{
  static const int dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
    return 29;
  return dim[m - 1];
}

static gint64
floor_div (gint64 a, gint64 b)
{
  return a / b - (a % b != 0 && ((a < 0) != (b < 0)));
}

/* Lowest set bit >= from (and <= max), or -1. */
static int
next_bit (guint64 mask, int from, int max)
{
  for (int v = from; v <= max; v++)
    if (mask & (G_GUINT64_CONSTANT (1) << v))
      return v;
  return -1;
}

static gboolean
day_matches (const TsqCron *cron, gint64 days, int d)
{
  gboolean dom_ok = (cron->dom & (1u << d)) != 0;
  int wd = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */
  gboolean dow_ok = (cron->dow & (1u << wd)) != 0;

  /* Vixie cron: two restricted day fields are OR-ed, otherwise AND-ed (a '*' matches all). */
  if (!cron->dom_star && !cron->dow_star)
    return dom_ok || dow_ok;
  return dom_ok && dow_ok;
}

/* Smallest matching civil second >= start and <= limit. */
static gboolean
next_civil (const TsqCron *cron, gint64 start, gint64 limit, gint64 *out)
{
  gint64 days = floor_div (start, SECS_PER_DAY);
  gint64 rem = start - days * SECS_PER_DAY;
  gint64 y;
  int mo, d, h, mi, s;

  civil_from_days (days, &y, &mo, &d);
  h = (int)(rem / 3600);
  mi = (int)(rem / 60 % 60);
  s = (int)(rem % 60);

  for (;;)
    {
      gint64 day_start = days_from_civil (y, mo, d);
      int v;

      if (day_start * SECS_PER_DAY > limit)
        return FALSE;
      if (!(cron->mon & (1u << mo)))
        {
          v = next_bit (cron->mon, mo + 1, 12);
          if (v < 0)
            {
              y++;
              v = next_bit (cron->mon, 1, 12);
            }
          mo = v;
          d = 1;
          h = mi = s = 0;
          continue;
        }
      if (!day_matches (cron, day_start, d))
        goto next_day;
      v = next_bit (cron->hour, h, 23);
      if (v < 0)
        goto next_day;
      if (v != h)
        {
          h = v;
          mi = s = 0;
        }
      v = next_bit (cron->min, mi, 59);
      if (v < 0)
        goto next_hour;
      if (v != mi)
        {
          mi = v;
          s = 0;
        }
      v = next_bit (cron->sec, s, 59);
      if (v < 0)
        {
          mi++;
          s = 0;
          if (mi < 60)
            continue;
          goto next_hour;
        }
      s = v;
      *out = day_start * SECS_PER_DAY + h * 3600 + mi * 60 + s;
      return *out <= limit;

    next_hour:
      h++;
      mi = s = 0;
      if (h < 24)
        continue;
    next_day:
      h = mi = s = 0;
      d++;
      if (d > days_in_month (y, mo))
        {
          d = 1;
          mo++;
          if (mo > 12)
            {
              mo = 1;
              y++;
            }
        }
    }
}

/* ---- time zone mapping ---- */

static gint64
offset_at (GTimeZone *tz, gint64 t)
{
  return g_time_zone_get_offset (tz, g_time_zone_find_interval (tz, G_TIME_TYPE_UNIVERSAL, t));
}

/* First instant in (lo, hi] whose offset differs from the offset at lo (hi must differ). */
static gint64
find_transition (GTimeZone *tz, gint64 lo, gint64 hi)
{
  gint64 o = offset_at (tz, lo);

  while (hi - lo > 1)
    {
      gint64 mid = lo + (hi - lo) / 2;

      if (offset_at (tz, mid) == o)
        lo = mid;
      else
        hi = mid;
    }
  return hi;
}

/* Maps wall-clock second c to instants: returns 1 (unique, *t1), 2 (repeated: *t1 < *t2) or
 * 0 (skipped by a gap: *t1 = the instant of the jump). Assumes at most one transition within a
 * day of c, which holds for every zone in the tz database. */
static int
resolve_civil (GTimeZone *tz, gint64 c, gint64 *t1, gint64 *t2)
{
  gint64 offs[3]
    = { offset_at (tz, c - SECS_PER_DAY), offset_at (tz, c), offset_at (tz, c + SECS_PER_DAY) };
  gint64 valid[3], lo = G_MAXINT64, hi = G_MININT64;
  int n = 0;

  for (int i = 0; i < 3; i++)
    {
      gint64 t = c - offs[i];
      gboolean dup = FALSE;

      lo = MIN (lo, t);
      hi = MAX (hi, t);
      if (offset_at (tz, t) != offs[i])
        continue;
      for (int j = 0; j < n; j++)
        dup |= valid[j] == t;
      if (!dup)
        valid[n++] = t;
    }
  if (n == 0)
    {
      *t1 = lo == hi ? lo : find_transition (tz, lo, hi);
      return 0;
    }
  *t1 = valid[0];
  *t2 = valid[0];
  for (int j = 1; j < n; j++)
    {
      *t1 = MIN (*t1, valid[j]);
      *t2 = MAX (*t2, valid[j]);
    }
  return *t1 == *t2 ? 1 : 2;
}

gboolean
tsq_cron_next_unix (TsqCron *cron, gint64 after_s, GTimeZone *tz, gint64 *next_s)
{
  g_autoptr (GTimeZone) utc = NULL;
  gint64 o0, l0, limit, start, best = 0;

  g_return_val_if_fail (cron != NULL, FALSE);
  g_return_val_if_fail (next_s != NULL, FALSE);

  /* Keep far away from overflow in the calendar arithmetic (year ~ +-292 billion). */
  if (after_s > G_GINT64_CONSTANT (253402300799) || after_s < G_GINT64_CONSTANT (-62135596800))
    return FALSE;
  if (tz == NULL)
    tz = utc = g_time_zone_new_utc ();

  o0 = offset_at (tz, after_s);
  l0 = after_s + o0;
  limit = l0 + SEARCH_LIMIT_SEC;
  start = l0 + 1;

  /* Walk wall-clock matches in order. Outside an autumn repeat the first one is the answer;
   * inside it, a match may map to an instant before after_s (its first occurrence already
   * passed): wildcard jobs then take its second occurrence, others move on. */
  for (;;)
    {
      gint64 c, t1, t2;
      int n;

      if (!next_civil (cron, start, limit, &c))
        return FALSE;
      n = resolve_civil (tz, c, &t1, &t2);
      if (t1 > after_s)
        {
          best = t1;
          break;
        }
      if (n == 2 && cron->wildcard && t2 > after_s)
        {
          best = t2;
          break;
        }
      start = c + 1;
    }

  /* If after_s is in the first pass of an autumn repeat and the next wall-clock match lies
   * beyond it, a wildcard job first fires in the repeated hour (second occurrences). */
  if (cron->wildcard && offset_at (tz, best) < o0)
    {
      gint64 t_tr = find_transition (tz, after_s, best);
      gint64 oa = offset_at (tz, t_tr);
      gint64 c;

      if (oa < o0 && next_civil (cron, t_tr + oa, t_tr + o0 - 1, &c))
        {
          gint64 cand = c - oa;

          if (cand > after_s && cand < best)
            best = cand;
        }
    }
  *next_s = best;
  return TRUE;
}

GDateTime *
tsq_cron_next (TsqCron *cron, GDateTime *after, GTimeZone *tz)
{
  g_autoptr (GTimeZone) utc = NULL;
  g_autoptr (GDateTime) dt = NULL;
  gint64 next;

  g_return_val_if_fail (cron != NULL, NULL);
  g_return_val_if_fail (after != NULL, NULL);

  if (tz == NULL)
    tz = utc = g_time_zone_new_utc ();
  if (!tsq_cron_next_unix (cron, g_date_time_to_unix (after), tz, &next))
    return NULL;
  dt = g_date_time_new_from_unix_utc (next);
  if (dt == NULL)
    return NULL;
  return g_date_time_to_timezone (dt, tz);
}
