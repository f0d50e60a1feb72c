/* tsq-fetch-response.c: fetch error kinds and the response record. */
#define G_LOG_DOMAIN "tsq-fetcher"

#include "tsq-fetch-response.h"

/* clang-format off */
G_DEFINE_QUARK (tsq-fetch-error-quark, tsq_fetch_error)
/* clang-format on */

static const char *const error_kinds[] = {
  [TSQ_FETCH_ERROR_INVALID_URL] = "invalid_url",
  [TSQ_FETCH_ERROR_UNSUPPORTED_SCHEME] = "unsupported_scheme",
  [TSQ_FETCH_ERROR_DNS] = "dns",
  [TSQ_FETCH_ERROR_CONNECTION_REFUSED] = "connection_refused",
  [TSQ_FETCH_ERROR_CONNECTION] = "connection",
  [TSQ_FETCH_ERROR_TLS] = "tls",
  [TSQ_FETCH_ERROR_TIMEOUT] = "timeout",
  [TSQ_FETCH_ERROR_TOO_MANY_REDIRECTS] = "too_many_redirects",
  [TSQ_FETCH_ERROR_REDIRECT_LOOP] = "redirect_loop",
  [TSQ_FETCH_ERROR_BLOCKED_ADDRESS] = "blocked_address",
  [TSQ_FETCH_ERROR_BODY_TOO_LARGE] = "body_too_large",
  [TSQ_FETCH_ERROR_HEADERS_TOO_LARGE] = "headers_too_large",
  [TSQ_FETCH_ERROR_HTTP] = "http",
  [TSQ_FETCH_ERROR_CANCELLED] = "cancelled",
  [TSQ_FETCH_ERROR_INTERNAL] = "internal",
};

const char *
tsq_fetch_error_kind (int code)
{
  if (code < 0 || code >= (int)G_N_ELEMENTS (error_kinds) || error_kinds[code] == NULL)
    return "internal";
  return error_kinds[code];
}

void
tsq_redirect_free (TsqRedirect *redirect)
{
  if (redirect == NULL)
    return;
  g_free (redirect->url);
  g_free (redirect);
}

TsqFetchResponse *
tsq_fetch_response_new (const char *url)
{
  TsqFetchResponse *response = g_new0 (TsqFetchResponse, 1);

  response->url = g_strdup (url);
  response->final_url = g_strdup (url);
  response->redirects = g_ptr_array_new_with_free_func ((GDestroyNotify)tsq_redirect_free);
  response->tls_days_left = -1;
  return response;
}

void
tsq_fetch_response_free (TsqFetchResponse *response)
{
  if (response == NULL)
    return;
  g_free (response->url);
  g_free (response->final_url);
  g_free (response->http_version);
  g_clear_pointer (&response->headers, soup_message_headers_unref);
  g_free (response->content_type);
  g_clear_pointer (&response->body, g_bytes_unref);
  g_clear_pointer (&response->redirects, g_ptr_array_unref);
  g_free (response->tls_subject);
  g_free (response->tls_issuer);
  g_clear_pointer (&response->tls_not_before, g_date_time_unref);
  g_clear_pointer (&response->tls_not_after, g_date_time_unref);
  g_free (response->remote_address);
  g_free (response);
}

char *
tsq_tls_flags_to_string (GTlsCertificateFlags flags)
{
  static const struct
  {
    GTlsCertificateFlags flag;
    const char *name;
  } names[] = {
    { G_TLS_CERTIFICATE_UNKNOWN_CA, "unknown-ca" },
    { G_TLS_CERTIFICATE_BAD_IDENTITY, "bad-identity" },
    { G_TLS_CERTIFICATE_NOT_ACTIVATED, "not-activated" },
    { G_TLS_CERTIFICATE_EXPIRED, "expired" },
    { G_TLS_CERTIFICATE_REVOKED, "revoked" },
    { G_TLS_CERTIFICATE_INSECURE, "insecure" },
    { G_TLS_CERTIFICATE_GENERIC_ERROR, "generic-error" },
  };
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      if ((flags & names[i].flag) == 0)
        continue;
      if (out->len > 0)
        g_string_append (out, ", ");
      g_string_append (out, names[i].name);
    }
  return g_string_free (out, FALSE);
}
