/**
 * An email reply and the customer's answer to it end in the same conversation, across services:
 * Postmark inbound → router opens a conversation → the agent's reply (omni.outbound.v1, as the router
 * publishes it) is delivered by ingest-email to the sending adapter with a generated Message-ID →
 * the customer answers that Message-ID (In-Reply-To only) → same thread → the router attaches the
 * answer to the same conversation. A second answer carrying only the plus-address Reply-To token
 * (mail client dropped the headers) lands there too.
 */
import { startIngestService } from '@omni/ingest';
import { Publisher } from '@omni/kafka';
import { OutboundMessage, newId } from '@omni/contracts';
import * as emailCfg from '@omni/ingest-email/src/config';
import { start as startEmail } from '@omni/ingest-email/src/start';
import * as routerCfg from '@omni/router/src/config';
import { start as startRouter } from '@omni/router/src/start';
import { AdapterStub } from './support/adapter-stub';
import { createWorld, eventually, testLogger, TopicWatcher, type TestWorld } from './support/infra';

const POSTMARK = 'pm-user:pm-pass';
const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;

function postmarkPayload(opts: { id: string; messageId: string; inReplyTo?: string; to?: string; text: string; subject: string }) {
  const to = opts.to ?? 'soporte@support.example';
  return {
    FromName: 'Marta Ruiz',
    From: 'marta.ruiz@cliente.example',
    FromFull: { Email: 'marta.ruiz@cliente.example', Name: 'Marta Ruiz', MailboxHash: '' },
    To: to,
    ToFull: [{ Email: to, Name: '', MailboxHash: '' }],
    Subject: opts.subject,
    MessageID: opts.id,
    Date: 'Mon, 23 Nov 2026 09:30:00 +0100',
    TextBody: opts.text,
    HtmlBody: '',
    StrippedTextReply: '',
    Headers: [{ Name: 'Message-ID', Value: opts.messageId }, ...(opts.inReplyTo ? [{ Name: 'In-Reply-To', Value: opts.inReplyTo }] : [])],
    Attachments: [],
  };
}

describe('email reply round trip: agent reply and customer answer share one conversation', () => {
  let world: TestWorld;
  let stub: AdapterStub;
  let publisher: Publisher;
  let inbound: TopicWatcher;
  let conversations: TopicWatcher;
  const closers: (() => Promise<void>)[] = [];
  let emailUrl: string;

  beforeAll(async () => {
    world = await createWorld('emailround');
    stub = new AdapterStub({ '/send-email': 'sender-secret-1' });
    await stub.listen();
    publisher = new Publisher(world.kafka);
    await publisher.connect();
    inbound = await TopicWatcher.start(world, world.topics.inbound);
    conversations = await TopicWatcher.start(world, world.topics.conversations);
    const email = await startIngestService(
      'email',
      emailCfg.readConfig(
        world.env({
          POSTMARK_BASIC_AUTH: POSTMARK,
          DELIVERY_TARGETS: `postmark=${stub.url('/send-email')}|sender-secret-1`,
          DELIVERY_GROUP_ID: world.groupId('email-delivery'),
          EMAIL_MESSAGE_ID_DOMAIN: 'support.example',
          EMAIL_REPLY_TO_ADDRESS: 'soporte@support.example',
        }),
      ),
      testLogger,
      startEmail,
    );
    emailUrl = email.url;
    closers.push(email.close);
    const router = await startRouter(routerCfg.readConfig(world.env({ ROUTER_GROUP_ID: world.groupId('router'), JWT_SECRET: 'test-jwt-secret-0123456789abcdef' })), testLogger);
    closers.push(router.close);
  });

  afterAll(async () => {
    for (const c of closers.reverse()) await c();
    await inbound?.stop();
    await conversations?.stop();
    await publisher?.disconnect();
    await stub?.close();
    await world?.close();
  });

  const postmark = (body: unknown) =>
    fetch(`${emailUrl}/v1/email/inbound/postmark`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basic(POSTMARK) }, body: JSON.stringify(body) });

  it('threads the answer to our Message-ID, and a plus-address-only answer, into the same conversation', async () => {
    const first = await postmark(postmarkPayload({ id: 'pm-a1', messageId: '<first-a1@mail.cliente.example>', subject: 'No me llega el pedido', text: 'Mi pedido 4411 no ha llegado.' }));
    expect(first.status).toBe(200);
    const firstId = ((await first.json()) as { messageId: string }).messageId;
    const [firstMsg] = await inbound.waitFor((v) => v.messageId === firstId);
    const threadKey = String(firstMsg!.value.threadKey);
    const [opened] = await conversations.waitFor((v) => v.type === 'conversation.opened' && v.messageId === firstId);
    const conversationId = String(opened!.value.conversationId);

    // the agent answers (the router publishes this on omni.outbound.v1 when an agent replies)
    const reply: OutboundMessage = {
      schema: 'omni.outbound.v1',
      outboundId: newId('out'),
      conversationId,
      channel: 'email',
      threadKey,
      to: { channel: 'email', address: 'marta.ruiz@cliente.example', name: 'Marta Ruiz' },
      agentId: 'agent-12',
      text: 'Hola Marta, el pedido 4411 sale hoy. ¿Te llega el correo de seguimiento?',
      subject: 'Re: No me llega el pedido',
      createdAt: new Date().toISOString(),
    };
    await publisher.publish([{ topic: world.topics.outbound, key: conversationId, value: reply, schema: OutboundMessage }]);
    const [sent] = await stub.waitFor((r) => r.body.outboundId === reply.outboundId);
    expect(sent!.verified).toBe(true);
    const headers = sent!.body.email as { messageId: string; inReplyTo: string; references: string[]; replyTo: string };
    expect(headers.inReplyTo).toBe('<first-a1@mail.cliente.example>');
    expect(headers.replyTo).toMatch(/^soporte\+t_[0-9a-f]{20}@support\.example$/);

    // the customer answers the agent's email: only In-Reply-To names our Message-ID
    const answer = await postmark(
      postmarkPayload({ id: 'pm-a2', messageId: '<answer-a2@mail.cliente.example>', inReplyTo: headers.messageId, subject: 'Re: No me llega el pedido', text: 'No, no me ha llegado nada.' }),
    );
    expect(answer.status).toBe(200);
    const answerId = ((await answer.json()) as { messageId: string }).messageId;
    const [answerMsg] = await inbound.waitFor((v) => v.messageId === answerId);
    expect(answerMsg!.value.threadKey).toBe(threadKey);

    // a client that dropped In-Reply-To/References but kept our Reply-To plus address
    const bare = await postmark(postmarkPayload({ id: 'pm-a3', messageId: '<bare-a3@mail.cliente.example>', to: headers.replyTo, subject: 'seguimiento', text: 'Ya lo tengo, gracias.' }));
    expect(bare.status).toBe(200);
    const bareId = ((await bare.json()) as { messageId: string }).messageId;
    const [bareMsg] = await inbound.waitFor((v) => v.messageId === bareId);
    expect(bareMsg!.value.threadKey).toBe(threadKey);

    // the router put both answers into the conversation the first email opened
    const rows = await eventually(async () => {
      const r = await world.pool.query<{ message_id: string; conversation_id: string }>(
        'SELECT message_id, conversation_id FROM router.conversation_messages WHERE message_id = ANY($1::text[]) ORDER BY message_id',
        [[firstId, answerId, bareId]],
      );
      return r.rows.length === 3 ? r.rows : undefined;
    }, 'router to attach all three emails');
    expect(new Set(rows.map((r) => r.conversation_id))).toEqual(new Set([conversationId]));
    expect(conversations.seen.filter((s) => s.value.type === 'conversation.opened' && s.value.threadKey === threadKey)).toHaveLength(1);
  });
});
