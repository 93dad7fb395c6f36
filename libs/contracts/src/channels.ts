/** Every concrete channel a message can arrive on, and the ingest service ("kind") owning it. */
export const CHANNELS = ['chat', 'email', 'phone', 'sms', 'messenger', 'instagram', 'whatsapp', 'telegram', 'x', 'other'] as const;
export type Channel = (typeof CHANNELS)[number];

export const CHANNEL_KINDS = ['chat', 'email', 'phone', 'social'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** Which channels each ingest service accepts on its generic adapter route and delivers outbound for. */
export const KIND_CHANNELS: Record<ChannelKind, readonly Channel[]> = {
  chat: ['chat'],
  email: ['email'],
  phone: ['phone', 'sms'],
  social: ['messenger', 'instagram', 'whatsapp', 'telegram', 'x', 'other'],
};

export function kindOfChannel(channel: Channel): ChannelKind {
  for (const kind of CHANNEL_KINDS) if (KIND_CHANNELS[kind].includes(channel)) return kind;
  return 'social';
}
