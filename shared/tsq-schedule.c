/* tsq-schedule.c: interval and cron schedules, their text/JSON forms and misfire policy. */
#define G_LOG_DOMAIN "tsq-schedule"

#include "tsq-schedule.h"
#include "tsq-json-util.h"

#include <string.h>

/* clang-format off */
G_DEFINE_QUARK (tsq-schedule-error-quark, tsq_schedule_error)
/* clang-format on */

#define MAX_TEXT_LEN 2048
#define MAX_INTERVAL_US ((gint64)10 * 366 * 86400 * G_USEC_PER_SEC)
/* Fire times stay far from gint64 overflow (about year 36,000). */
#define MAX_TIME_US (G_GINT64_CONSTANT (1) << 60)

struct _TsqSchedule
{
  gatomicrefcount ref;
  TsqScheduleKind kind;
  gint64 every_us;
  gint64 jitter_us;
  TsqCron *cron;
  GTimeZone *tz;
  char *tz_name;
};

static guint64
mix64 (guint64 x)
{
  /* splitmix64 finaliser: every input bit affects every output bit. */
  x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return x ^ (x >> 31);
}

static gint64
floor_div (gint64 a, gint64 b)
{
  return a / b - (a % b != 0 && ((a < 0) != (b < 0)));
}

guint32
tsq_schedule_seed_for_id (const char *monitor_id)
{
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325); /* FNV-1a 64 */

  for (const guchar *p = (const guchar *)(monitor_id ? monitor_id : ""); *p; p++)
    {
      h ^= *p;
      h *= G_GUINT64_CONSTANT (0x100000001b3);
    }
  return (guint32)mix64 (h);
}

TsqSchedule *
tsq_schedule_ref (TsqSchedule *s)
{
  g_return_val_if_fail (s != NULL, NULL);
  g_atomic_ref_count_inc (&s->ref);
  return s;
}

void
tsq_schedule_unref (TsqSchedule *s)
{
  if (s == NULL || !g_atomic_ref_count_dec (&s->ref))
    return;
  tsq_cron_free (s->cron);
  if (s->tz != NULL)
    g_time_zone_unref (s->tz);
  g_free (s->tz_name);
  g_free (s);
}

TsqSchedule *
tsq_schedule_new_interval (gint64 every_us, gint64 jitter_us, GError **error)
{
  TsqSchedule *s;

  if (every_us < TSQ_SCHEDULE_MIN_INTERVAL_US)
    {
      g_set_error_literal (error, TSQ_SCHEDULE_ERROR, TSQ_SCHEDULE_ERROR_INVALID,
                           "interval must be at least 1s");
      return NULL;
    }
  if (every_us > MAX_INTERVAL_US)
    {
      g_set_error_literal (error, TSQ_SCHEDULE_ERROR, TSQ_SCHEDULE_ERROR_INVALID,
                           "interval must be at most 10 years");
      return NULL;
    }
  if (jitter_us < 0 || jitter_us > every_us)
    {
      g_set_error_literal (error, TSQ_SCHEDULE_ERROR, TSQ_SCHEDULE_ERROR_INVALID,
                           "jitter must be between 0 and the interval");
      return NULL;
    }
  s = g_new0 (TsqSchedule, 1);
  g_atomic_ref_count_init (&s->ref);
  s->kind = TSQ_SCHEDULE_INTERVAL;
  s->every_us = every_us;
  s->jitter_us = jitter_us;
  return s;
}

/* "Europe/Berlin", "America/Argentina/Buenos_Aires", "UTC", "Etc/GMT+5": letters, digits, '_',
 * '+', '-', in '/'-separated parts that do not start with a dot. */
static gboolean
is_zone_name (const char *name)
{
  gboolean part_start = TRUE;

  for (const char *p = name; *p; p++)
    {
      if (*p == '/')
        {
          if (part_start)
            return FALSE;
          part_start = TRUE;
          continue;
        }
      if (!(g_ascii_isalnum (*p) || *p == '_' || *p == '+' || *p == '-'))
        return FALSE;
      part_start = FALSE;
    }
  return !part_start;
}

TsqSchedule *
tsq_schedule_new_cron (const char *expr, const char *timezone, GError **error)
{
  g_autoptr (TsqCron) cron = NULL;
  GTimeZone *tz;
  TsqSchedule *s;

  if (timezone == NULL || *timezone == '\0')
    timezone = "UTC";
  /* GLib reads any file path given as an identifier; only IANA names are time zones here. */
  if (strlen (timezone) > 255 || !is_zone_name (timezone)
      || (tz = g_time_zone_new_identifier (timezone)) == NULL)
    {
      g_set_error (error, TSQ_SCHEDULE_ERROR, TSQ_SCHEDULE_ERROR_UNKNOWN_TIMEZONE,
                   "unknown time zone '%.64s'", timezone);
      return NULL;
    }
  cron = tsq_cron_parse (expr, error);
  if (cron == NULL)
    {
      g_time_zone_unref (tz);
      return NULL;
    }
  s = g_new0 (TsqSchedule, 1);
  g_atomic_ref_count_init (&s->ref);
  s->kind = TSQ_SCHEDULE_CRON;
  s->cron = g_steal_pointer (&cron);
  s->tz = tz;
  s->tz_name = g_strdup (timezone);
  return s;
}

/* "1h30m", "90s", "2d", "300" (seconds) -> µs; whole seconds only. */
static gboolean
parse_duration (const char *text, const char *what, gint64 *out_us, GError **error)
{
  const char *p = text;
  gint64 total = 0;

  if (*p == '\0')
    goto bad;
  while (*p != '\0')
    {
      gint64 v = 0, unit;

      if (!g_ascii_isdigit (*p))
        goto bad;
      while (g_ascii_isdigit (*p))
        {
          v = v * 10 + (*p++ - '0');
          if (v > 1000000000)
            goto too_long;
        }
      switch (g_ascii_tolower (*p))
        {
          case 'd':
            unit = 86400;
            break;
          case 'h':
            unit = 3600;
            break;
          case 'm':
            unit = 60;
            break;
          case 's':
          case '\0':
            unit = 1;
            break;
          default:
            goto bad;
        }
      if (*p != '\0')
        p++;
      total += v * unit;
      if (total > MAX_INTERVAL_US / G_USEC_PER_SEC)
        goto too_long;
    }
  *out_us = total * G_USEC_PER_SEC;
  return TRUE;

bad:
  g_set_error (error, TSQ_SCHEDULE_ERROR, TSQ_SCHEDULE_ERROR_INVALID,
               "%s: invalid duration '%.64s' (expected e.g. 30s, 5m, 1h30m, 1d)", what, text);
  return FALSE;
too_long:
  g_set_error (error, TSQ_SCHEDULE_ERROR, TSQ_SCHEDULE_ERROR_INVALID,
               "%s: duration '%.64s' is longer than 10 years", what, text);
  return FALSE;
}

static char *
format_duration (gint64 us)
{
  GString *str = g_string_new (NULL);
  gint64 s = us / G_USEC_PER_SEC;

  if (s >= 86400 && s % 3600 == 0 && s / 86400 > 0)
    {
      g_string_append_printf (str, "%" G_GINT64_FORMAT "d", s / 86400);
      s %= 86400;
    }
  if (s >= 3600)
    {
      g_string_append_printf (str, "%" G_GINT64_FORMAT "h", s / 3600);
      s %= 3600;
    }
  if (s >= 60)
    {
      g_string_append_printf (str, "%" G_GINT64_FORMAT "m", s / 60);
      s %= 60;
    }
  if (s > 0 || str->len == 0)
    g_string_append_printf (str, "%" G_GINT64_FORMAT "s", s);
  return g_string_free (str, FALSE);
}

static TsqSchedule *
parse_interval (GStrv tokens, GError **error)
{
  g_autoptr (GString) every = g_string_new (NULL);
  g_autoptr (GString) jitter = g_string_new (NULL);
  GString *cur = every;
  gint64 every_us = 0, jitter_us = 0;

  for (guint i = 1; tokens[i] != NULL; i++)
    {
      if (g_ascii_strcasecmp (tokens[i], "jitter") == 0 && cur == every)
        cur = jitter;
      else
        g_string_append (cur, tokens[i]);
    }
  if (!parse_duration (every->str, "every", &every_us, error))
    return NULL;
  if (cur == jitter && !parse_duration (jitter->str, "jitter", &jitter_us, error))
    return NULL;
  return tsq_schedule_new_interval (every_us, jitter_us, error);
}

static TsqSchedule *
parse_cron_tokens (GStrv tokens, guint first, GError **error)
{
  guint n = g_strv_length (tokens);
  const char *zone = NULL;
  g_autofree char *expr = NULL;

  if (n >= first + 2 && g_ascii_strcasecmp (tokens[n - 2], "tz") == 0)
    {
      zone = tokens[n - 2 + 1];
      n -= 2;
    }
  if (n <= first)
    {
      g_set_error_literal (error, TSQ_SCHEDULE_ERROR, TSQ_SCHEDULE_ERROR_INVALID,
                           "missing cron expression");
      return NULL;
    }
  {
    char *saved = tokens[n];

    tokens[n] = NULL;
    expr = g_strjoinv (" ", tokens + first);
    tokens[n] = saved;
  }
  return tsq_schedule_new_cron (expr, zone, error);
}

TsqSchedule *
tsq_schedule_parse (const char *text, GError **error)
{
  g_auto (GStrv) tokens = NULL;
  g_autofree char *copy = NULL;
  guint n = 0;

  if (text == NULL || strlen (text) > MAX_TEXT_LEN)
    {
      g_set_error_literal (error, TSQ_SCHEDULE_ERROR, TSQ_SCHEDULE_ERROR_INVALID,
                           text == NULL ? "empty schedule" : "schedule text too long");
      return NULL;
    }
  copy = g_strdup (text);
  for (char *c = copy; *c; c++)
    if (*c == '\t' || *c == '\n' || *c == '\r')
      *c = ' ';
  tokens = g_strsplit (g_strstrip (copy), " ", -1);
  for (guint i = 0; tokens[i] != NULL; i++)
    {
      if (tokens[i][0] == '\0')
        g_free (tokens[i]);
      else
        tokens[n++] = tokens[i];
    }
  tokens[n] = NULL;
  if (n == 0)
    {
      g_set_error_literal (error, TSQ_SCHEDULE_ERROR, TSQ_SCHEDULE_ERROR_INVALID, "empty schedule");
      return NULL;
    }
  if (g_ascii_strcasecmp (tokens[0], "every") == 0)
    return parse_interval (tokens, error);
  if (g_ascii_strcasecmp (tokens[0], "cron") == 0)
    return parse_cron_tokens (tokens, 1, error);
  return parse_cron_tokens (tokens, 0, error);
}

TsqSchedule *
tsq_schedule_from_json (JsonNode *node, GError **error)
{
  JsonObject *obj;
  const char *type;

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_STRING)
    return tsq_schedule_parse (json_node_get_string (node), error);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, TSQ_SCHEDULE_ERROR, TSQ_SCHEDULE_ERROR_INVALID,
                           "schedule must be a JSON object");
      return NULL;
    }
  obj = json_node_get_object (node);
  type = tsq_json_get_string (obj, "type", NULL);
  if (g_strcmp0 (type, "interval") == 0)
    {
      double every = tsq_json_get_double (obj, "every_s", 0);
      double jitter = tsq_json_get_double (obj, "jitter_s", 0);

      /* Range-check before converting: NaN and huge values fail here. */
      if (!(every >= 1 && every <= (double)(MAX_INTERVAL_US / G_USEC_PER_SEC)))
        {
          g_set_error_literal (error, TSQ_SCHEDULE_ERROR, TSQ_SCHEDULE_ERROR_INVALID,
                               "every_s must be a number between 1 and 10 years");
          return NULL;
        }
      if (!(jitter >= 0 && jitter <= every))
        {
          g_set_error_literal (error, TSQ_SCHEDULE_ERROR, TSQ_SCHEDULE_ERROR_INVALID,
                               "jitter_s must be between 0 and every_s");
          return NULL;
        }
      return tsq_schedule_new_interval ((gint64)(every + 0.5) * G_USEC_PER_SEC,
                                        (gint64)(jitter + 0.5) * G_USEC_PER_SEC, error);
    }
  if (g_strcmp0 (type, "cron") == 0)
    {
      const char *expr = tsq_json_get_string (obj, "expr", NULL);
      const char *zone = tsq_json_get_string (obj, "timezone", NULL);

      if (expr == NULL)
        {
          g_set_error_literal (error, TSQ_SCHEDULE_ERROR, TSQ_SCHEDULE_ERROR_INVALID,
                               "cron schedule needs a string \"expr\"");
          return NULL;
        }
      return tsq_schedule_new_cron (expr, zone, error);
    }
  g_set_error_literal (error, TSQ_SCHEDULE_ERROR, TSQ_SCHEDULE_ERROR_INVALID,
                       "schedule \"type\" must be \"interval\" or \"cron\"");
  return NULL;
}

JsonNode *
tsq_schedule_to_json (TsqSchedule *s)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (s != NULL, NULL);

  json_builder_begin_object (b);
  if (s->kind == TSQ_SCHEDULE_INTERVAL)
    {
      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, "interval");
      json_builder_set_member_name (b, "every_s");
      json_builder_add_int_value (b, s->every_us / G_USEC_PER_SEC);
      json_builder_set_member_name (b, "jitter_s");
      json_builder_add_int_value (b, s->jitter_us / G_USEC_PER_SEC);
    }
  else
    {
      g_autofree char *expr = tsq_cron_to_string (s->cron);

      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, "cron");
      json_builder_set_member_name (b, "expr");
      json_builder_add_string_value (b, expr);
      json_builder_set_member_name (b, "timezone");
      json_builder_add_string_value (b, s->tz_name);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

char *
tsq_schedule_to_string (TsqSchedule *s)
{
  g_return_val_if_fail (s != NULL, NULL);

  if (s->kind == TSQ_SCHEDULE_INTERVAL)
    {
      g_autofree char *every = format_duration (s->every_us);
      g_autofree char *jitter = NULL;

      if (s->jitter_us == 0)
        return g_strdup_printf ("every %s", every);
      jitter = format_duration (s->jitter_us);
      return g_strdup_printf ("every %s jitter %s", every, jitter);
    }
  else
    {
      g_autofree char *expr = tsq_cron_to_string (s->cron);

      if (g_str_equal (s->tz_name, "UTC"))
        return g_strdup_printf ("cron %s", expr);
      return g_strdup_printf ("cron %s tz %s", expr, s->tz_name);
    }
}

TsqScheduleKind
tsq_schedule_get_kind (TsqSchedule *s)
{
  return s->kind;
}

gint64
tsq_schedule_get_interval_us (TsqSchedule *s)
{
  return s->every_us;
}

gint64
tsq_schedule_get_jitter_us (TsqSchedule *s)
{
  return s->jitter_us;
}

TsqCron *
tsq_schedule_get_cron (TsqSchedule *s)
{
  return s->cron;
}

const char *
tsq_schedule_get_timezone (TsqSchedule *s)
{
  return s->tz_name ? s->tz_name : "UTC";
}

gint64
tsq_schedule_get_phase (TsqSchedule *s, guint32 seed)
{
  g_return_val_if_fail (s != NULL, 0);
  if (s->kind != TSQ_SCHEDULE_INTERVAL)
    return 0;
  return (gint64)(mix64 (((guint64)seed << 32) | 0xfffffffu) % (guint64)s->every_us);
}

gint64
tsq_schedule_get_jitter (TsqSchedule *s, guint32 seed, gint64 index)
{
  g_return_val_if_fail (s != NULL, 0);
  if (s->kind != TSQ_SCHEDULE_INTERVAL || s->jitter_us == 0)
    return 0;
  return (gint64)(mix64 (mix64 (seed) ^ (guint64)index) % (guint64)(s->jitter_us + 1));
}

static gint64
interval_fire (TsqSchedule *s, guint32 seed, gint64 phase, gint64 k)
{
  return k * s->every_us + phase + tsq_schedule_get_jitter (s, seed, k);
}

gint64
tsq_schedule_next (TsqSchedule *s, gint64 after_us, guint32 seed)
{
  g_return_val_if_fail (s != NULL, G_MAXINT64);

  if (after_us >= MAX_TIME_US)
    return G_MAXINT64;
  after_us = MAX (after_us, -MAX_TIME_US);

  if (s->kind == TSQ_SCHEDULE_INTERVAL)
    {
      gint64 phase = tsq_schedule_get_phase (s, seed);
      gint64 k = floor_div (after_us - phase, s->every_us);
      gint64 f = interval_fire (s, seed, phase, k);

      /* base(k) <= after < base(k+1) and jitter <= every, so fire k or k+1 is the answer. */
      return f > after_us ? f : interval_fire (s, seed, phase, k + 1);
    }
  else
    {
      gint64 next_s;

      if (!tsq_cron_next_unix (s->cron, floor_div (after_us, G_USEC_PER_SEC), s->tz, &next_s))
        return G_MAXINT64;
      return next_s * G_USEC_PER_SEC;
    }
}

gint64
tsq_schedule_resolve_misfire (
  TsqSchedule *s, gint64 due_us, gint64 now_us, gint64 grace_us, guint32 seed, gboolean *catch_up)
{
  gboolean dummy;

  g_return_val_if_fail (s != NULL, G_MAXINT64);
  if (catch_up == NULL)
    catch_up = &dummy;
  *catch_up = FALSE;
  if (due_us >= now_us)
    return due_us;
  if (now_us - due_us <= grace_us)
    {
      *catch_up = TRUE;
      return now_us;
    }
  return tsq_schedule_next (s, now_us, seed);
}
