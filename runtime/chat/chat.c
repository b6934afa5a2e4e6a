/* chat.c - the chat-template entry points: one arena per render, errors
 * caught here (jfail longjmps back), the result copied out with malloc. */
#include "jinja_internal.h"
#include "qrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *qrt_chat_render(const char *chat_template, const qrt_chat_message *messages, size_t n,
                      int add_generation_prompt, const char *bos_token, const char *eos_token,
                      char *err, size_t err_len) {
  static char unused[1];
  jctx c;
  memset(&c, 0, sizeof c);
  c.err = err_len ? err : unused;
  c.err_len = err_len ? err_len : sizeof unused;
  char *volatile result = NULL; /* set after setjmp */
  if (setjmp(c.fail) == 0) {
    if (!chat_template || !*chat_template)
      jfail(&c, 0, "the template is empty");
    jinja_lex(&c, chat_template, strlen(chat_template));
    jnodes body = jinja_parse(&c);
    c.globals = jv_dict(&c).u.d;
    jvalue list = jv_list(&c);
    for (size_t i = 0; i < n; ++i) {
      jvalue m = jv_dict(&c);
      jdict_set(&c, m.u.d, jstr_of("role"), jv_str(jstr_of(messages[i].role ? messages[i].role : "")));
      jdict_set(&c, m.u.d, jstr_of("content"),
                jv_str(jstr_of(messages[i].content ? messages[i].content : "")));
      jlist_push(&c, list.u.l, m);
    }
    jdict_set(&c, c.globals, jstr_of("messages"), list);
    jdict_set(&c, c.globals, jstr_of("add_generation_prompt"), jv_bool(add_generation_prompt));
    jdict_set(&c, c.globals, jstr_of("bos_token"), jv_str(jstr_of(bos_token ? bos_token : "")));
    jdict_set(&c, c.globals, jstr_of("eos_token"), jv_str(jstr_of(eos_token ? eos_token : "")));
    /* apply_chat_template passes tools=None and documents=None */
    jdict_set(&c, c.globals, jstr_of("tools"), jv_none());
    jdict_set(&c, c.globals, jstr_of("documents"), jv_none());
    jinja_exec(&c, &body);
    jstr out = jbuf_str(&c.out);
    char *copy = (char *)malloc(out.n + 1);
    if (copy) {
      memcpy(copy, out.p, out.n);
      copy[out.n] = 0;
      result = copy;
    } else {
      snprintf(c.err, c.err_len, "chat template: out of memory");
    }
  }
  jarena_free(&c.arena);
  return result;
}
