//! The service layer's types to and from `elevatediq.v1` messages: every conversion of the gRPC
//! API, written once. (Functions rather than `From` impls: both sides are other crates' types.)
//! proto3 has no "absent" for scalars, so an empty string or a zero means "not given" here, as
//! the proto file documents per field.

use std::collections::BTreeMap;

use eiq_features::best_times::{BestTimes, Slot};
use eiq_proto::v1 as pb;
use eiq_service::captions::{
    CaptionEvent, CaptionRequest, CaptionVariant, Captions, GenerationUsage, HashtagWish, ImageInput, Method, Origin,
};
use eiq_service::engagement::{BestTimesQuery, BlackoutWindow, ForecastAnswer, ImportReport, TimedForecast};
use eiq_service::hashtags::{SuggestRequest, Suggestions};
use eiq_service::images::{CroppedImage, ImageAnalysis, Rect};
use eiq_service::index::{AccountSummary, SearchAnswer, SearchRequest};
use eiq_service::posts::{EffectiveRules, Length, MediaDescription, PostCheck, PostCheckRequest, RuleOverride};
use eiq_service::text::{
    Analysis, Decision, GateVerdict, ModelSummary, Policy, PolicyChoice, Reason, Span, Thresholds,
};

/// An empty proto3 string is an absent field.
pub fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// A gate request's policy: a configured one by name, one inline, or `default` when absent.
pub fn policy_choice(policy: Option<pb::gate_request::Policy>) -> PolicyChoice {
    match policy {
        None => PolicyChoice::default(),
        Some(pb::gate_request::Policy::PolicyName(name)) => PolicyChoice::Named(name),
        Some(pb::gate_request::Policy::InlinePolicy(policy)) => PolicyChoice::Inline(Policy {
            thresholds: policy
                .thresholds
                .into_iter()
                .map(|(category, t)| (category, Thresholds { review: t.review, block: t.block }))
                .collect::<BTreeMap<_, _>>(),
            blocklist: policy.blocklist,
            allowlist: policy.allowlist,
            duplicate_window_days: (policy.duplicate_window_days != 0).then_some(policy.duplicate_window_days),
        }),
    }
}

pub fn best_times_query(request: pb::BestTimesRequest) -> BestTimesQuery {
    BestTimesQuery {
        platform: non_empty(request.platform),
        top_k: (request.top_k != 0).then_some(request.top_k as usize),
        min_spacing_hours: request.min_spacing_hours,
        resolution_minutes: (request.resolution_minutes != 0).then_some(request.resolution_minutes),
        blackouts: (request.blackouts.into_iter())
            .map(|b| BlackoutWindow { day: non_empty(b.day), start: b.start, end: b.end })
            .collect(),
    }
}

pub fn span(span: Span) -> pb::Span {
    pb::Span {
        category: span.category.into(),
        start: span.start as u32,
        end: span.end as u32,
        text: span.text,
        entry: span.entry,
    }
}

pub fn analysis(analysis: Analysis) -> pb::AnalyzeResponse {
    let results = analysis
        .results
        .into_iter()
        .map(|result| pb::TextResult {
            tasks: result
                .tasks
                .into_iter()
                .map(|t| pb::TaskResult {
                    task: t.task,
                    label: t.label,
                    scores: t.scores.into_iter().map(|(label, score)| pb::LabelScore { label, score }).collect(),
                })
                .collect(),
            spans: result.spans.into_iter().map(span).collect(),
        })
        .collect();
    let heads = analysis
        .heads
        .into_iter()
        .map(|h| pb::HeadInfo {
            task: h.task,
            labels: h.labels,
            method: h.method,
            metric: h.metric,
            validation: h.validation,
        })
        .collect();
    pb::AnalyzeResponse {
        model: analysis.model,
        model_version: analysis.model_version,
        precision: analysis.precision.into(),
        results,
        heads,
    }
}

fn reason(Reason { category, score, decision, threshold, source, source_version, detail }: Reason) -> pb::Reason {
    let threshold_crossed = decision.as_str().into();
    let detail = detail.unwrap_or_default();
    pb::Reason { category, score, threshold_crossed, threshold, model: source, model_version: source_version, detail }
}

fn decision(decision: Decision) -> i32 {
    let decision = match decision {
        Decision::Allow => pb::Decision::Allow,
        Decision::Review => pb::Decision::Review,
        Decision::Block => pb::Decision::Block,
    };
    decision as i32
}

pub fn verdict(verdict: GateVerdict) -> pb::GateResponse {
    pb::GateResponse {
        decision: decision(verdict.decision),
        policy: verdict.policy,
        platform: verdict.platform.unwrap_or_default(),
        reasons: verdict.reasons.into_iter().map(reason).collect(),
        spans: verdict.spans.into_iter().map(span).collect(),
        scores: verdict.scores.into_iter().collect(),
    }
}

pub fn model(model: ModelSummary) -> pb::ModelInfo {
    pb::ModelInfo {
        task: model.task.into(),
        backend: model.backend.into(),
        precision: model.precision.into(),
        dimensions: model.dimensions.map_or(0, |d| d as u32),
        max_sequence_length: model.max_sequence_length.map_or(0, |l| l as u32),
        licence: model.licence,
        upstream: model.upstream,
        state: model.state.to_string(),
        id: model.id,
    }
}

pub fn import_report(report: ImportReport) -> pb::ImportResult {
    pb::ImportResult {
        imported: report.imported as u64,
        skipped_reposts: report.skipped_reposts as u64,
        errors: report.errors.into_iter().map(|e| pb::RowError { row: e.row as u64, reason: e.reason }).collect(),
        error_count: report.error_count as u64,
        accounts: report
            .accounts
            .into_iter()
            .map(|a| pb::AccountImport {
                account_id: a.account_id,
                added: a.added as u64,
                updated: a.updated as u64,
                total: a.total as u64,
            })
            .collect(),
    }
}

fn timed(forecast: &TimedForecast) -> pb::TimedForecast {
    pb::TimedForecast {
        at: forecast.at,
        local_time: forecast.local_time.clone(),
        engagement: forecast.forecast.engagement,
        low: forecast.forecast.low,
        high: forecast.forecast.high,
        lift: forecast.lift,
    }
}

pub fn forecast(answer: ForecastAnswer) -> pb::ForecastResponse {
    let evaluation = &answer.model.evaluation;
    let served = evaluation.score(&evaluation.served);
    pb::ForecastResponse {
        best: Some(timed(&answer.forecasts[answer.best])),
        forecasts: answer.forecasts.iter().map(timed).collect(),
        model: Some(pb::ForecastModel {
            served: evaluation.served.clone(),
            trained_posts: evaluation.posts as u64,
            held_out_spearman: served.map_or(0.0, |s| s.spearman),
            held_out_mae: served.map_or(0.0, |s| s.mae),
            account_median_mae: evaluation.score("account median").map_or(0.0, |s| s.mae),
        }),
        account_id: answer.account_id,
        platform: answer.platform,
        timezone: answer.timezone.unwrap_or_default(),
    }
}

fn slot(slot: &Slot) -> pb::Slot {
    pb::Slot {
        start: slot.label.clone(),
        start_minute: slot.start_minute,
        next_at: slot.next_at,
        expected_engagement: slot.expected_engagement,
        lift: slot.lift,
        lift_low: slot.lift_low,
        lift_high: slot.lift_high,
        posts: slot.posts as u64,
        history_weight: slot.history_weight,
    }
}

pub fn best_times(best: BestTimes, include_grid: bool) -> pb::BestTimesResponse {
    pb::BestTimesResponse {
        top: best.top.iter().map(slot).collect(),
        grid: if include_grid { best.grid.iter().map(slot).collect() } else { Vec::new() },
        account_id: best.account_id,
        platform: best.platform,
        timezone: best.timezone.unwrap_or_default(),
        resolution_minutes: best.resolution_minutes,
        account_posts: best.account_posts as u64,
    }
}

pub fn post_check_request(request: pb::CheckPostRequest) -> PostCheckRequest {
    let media = request
        .media
        .into_iter()
        .map(|item| MediaDescription {
            kind: item.r#type,
            width: item.width,
            height: item.height,
            duration_s: item.duration_s,
            bytes: item.bytes,
        })
        .collect();
    PostCheckRequest { text: request.text, platform: request.platform, title: request.title, media }
}

fn post_length(length: Length) -> pb::PostLength {
    pb::PostLength { unit: length.unit.as_str().to_string(), used: length.used as u64, limit: length.limit as u64 }
}

pub fn post_check(check: PostCheck) -> pb::CheckPostResponse {
    pb::CheckPostResponse {
        platform: check.platform,
        length: Some(post_length(check.length)),
        valid: check.valid,
        violations: check
            .violations
            .into_iter()
            .map(|v| pb::Violation { rule: v.rule.to_string(), message: v.message, limit: v.limit, actual: v.actual })
            .collect(),
        hashtags: check.hashtags,
        mentions: check.mentions,
        urls: check.urls,
        title: check.title.map(post_length),
    }
}

/// An override's numbers; one past `usize` stays too big, for the service to refuse.
pub fn rule_override(change: pb::PlatformOverride) -> RuleOverride {
    let size = |value: Option<u64>| value.map(|v| usize::try_from(v).unwrap_or(usize::MAX));
    RuleOverride {
        limit: size(change.limit),
        url_length: size(change.url_length),
        max_bytes: size(change.max_bytes),
        title_limit: size(change.title_limit),
        max_hashtags: size(change.max_hashtags),
        max_mentions: size(change.max_mentions),
        max_urls: size(change.max_urls),
        max_media_items: size(change.max_media_items),
    }
}

pub fn platform_info(effective: EffectiveRules) -> pb::PlatformInfo {
    let EffectiveRules { rules, overrides } = effective;
    let count = |value: Option<usize>| value.map(|v| v as u64);
    let media = (rules.media.kinds())
        .map(|(kind, limits)| pb::MediaKindRules {
            r#type: kind.as_str().to_string(),
            max_items: limits.max_items as u64,
            max_bytes: limits.max_bytes,
            min_duration_s: limits.min_duration_s,
            max_duration_s: limits.max_duration_s,
            min_aspect_ratio: limits.min_aspect_ratio,
            max_aspect_ratio: limits.max_aspect_ratio,
        })
        .collect();
    pb::PlatformInfo {
        overridden: overrides.overridden().into_iter().map(str::to_string).collect(),
        id: rules.id,
        name: rules.name,
        unit: rules.unit.as_str().to_string(),
        limit: rules.limit as u64,
        url_length: count(rules.url_length),
        max_bytes: count(rules.max_bytes),
        title_limit: count(rules.title_limit),
        max_hashtags: count(rules.max_hashtags),
        max_mentions: count(rules.max_mentions),
        max_urls: count(rules.max_urls),
        hashtags_ignored_over: count(rules.hashtags_ignored_over),
        min_media_items: rules.media.min_items as u64,
        max_media_items: rules.media.max_items as u64,
        media_mixed: rules.media.mixed,
        media,
        source: rules.source,
        as_of: rules.as_of,
        media_source: rules.media.source,
        media_as_of: rules.media.as_of,
    }
}

pub fn caption_request(request: pb::GenerateCaptionsRequest) -> CaptionRequest {
    use pb::generate_captions_request::Hashtags;
    let hashtags = match request.hashtags {
        None => HashtagWish::Unspecified,
        Some(Hashtags::None(true)) | Some(Hashtags::Count(0)) => HashtagWish::None,
        Some(Hashtags::None(false)) => HashtagWish::Unspecified,
        Some(Hashtags::Count(n)) => HashtagWish::Count(n as usize),
    };
    use pb::generate_captions_request::Image;
    CaptionRequest {
        text: request.text,
        image: request.image.map(|image| match image {
            Image::ImageId(id) => ImageInput::Id(id),
            Image::ImageBytes(bytes) => ImageInput::Bytes(bytes),
        }),
        platforms: request.platforms,
        tone: request.tone,
        hashtags,
        variants: request.variants.map(|n| n as usize),
        seed: request.seed,
    }
}

fn caption_variant(variant: CaptionVariant) -> pb::CaptionVariant {
    let (origin, attempt) = match variant.origin {
        Origin::Generated { attempt } => ("generated", attempt as u32),
        Origin::FittedDraft => ("fitted_draft", 0),
    };
    pb::CaptionVariant {
        platform: variant.platform,
        text: variant.text,
        length: Some(post_length(variant.length)),
        valid: variant.valid,
        hashtags: variant.hashtags,
        decision: decision(variant.decision),
        reasons: variant.reasons.into_iter().map(reason).collect(),
        similarity: variant.similarity,
        origin: origin.into(),
        attempt,
        trimmed: variant.trimmed,
    }
}

fn usage(usage: GenerationUsage) -> pb::GenerationUsage {
    pb::GenerationUsage {
        generations: usage.generations as u32,
        prompt_tokens: usage.prompt_tokens as u64,
        generated_tokens: usage.generated_tokens as u64,
        prompt_seconds: usage.prompt_time.as_secs_f64(),
        generation_seconds: usage.generation_time.as_secs_f64(),
        first_token_seconds: usage.first_token_after.map(|d| d.as_secs_f64()),
    }
}

pub fn captions(captions: Captions) -> pb::GenerateCaptionsResponse {
    let (method, model, reason) = match captions.method {
        Method::Model { id } => ("model", id, String::new()),
        Method::Rules { reason } => ("rules", String::new(), reason),
    };
    pb::GenerateCaptionsResponse {
        method: method.into(),
        model,
        reason,
        variants: captions.variants.into_iter().map(caption_variant).collect(),
        usage: Some(usage(captions.usage)),
    }
}

pub fn caption_event(event: CaptionEvent) -> pb::CaptionStreamEvent {
    use pb::caption_stream_event::Event;
    let event = match event {
        CaptionEvent::Text { platform, variant, text } => {
            Event::Text(pb::CaptionText { platform, variant: variant as u32, text })
        }
        CaptionEvent::Variant { variant, .. } => Event::Variant(caption_variant(variant)),
    };
    pb::CaptionStreamEvent { event: Some(event) }
}

fn rect(rect: Rect) -> pb::Rect {
    pb::Rect { x: rect.x, y: rect.y, width: rect.width, height: rect.height }
}

pub fn image_analysis(analysis: ImageAnalysis, cropped: Option<CroppedImage>) -> pb::AnalyzeImageResponse {
    let ImageAnalysis {
        image_id,
        width,
        height,
        format,
        bytes,
        aspect_ratio,
        reoriented,
        platform_fit,
        quality,
        colors,
        ocr,
        alt_text,
        warnings,
    } = analysis;
    pb::AnalyzeImageResponse {
        image_id,
        width,
        height,
        format: format.into(),
        bytes: bytes as u64,
        aspect_ratio,
        reoriented,
        platform_fit: platform_fit
            .into_iter()
            .map(|fit| pb::PlatformFit {
                platform: fit.platform,
                ok: fit.ok,
                reason: fit.reason,
                crop: Some(rect(fit.crop)),
            })
            .collect(),
        quality: Some(pb::ImageQuality {
            brightness: quality.brightness,
            contrast: quality.contrast,
            sharpness: quality.sharpness,
            blurry: quality.blurry,
        }),
        colors: colors
            .into_iter()
            .map(|c| pb::ImageColor { hex: c.hex, share: c.share, name: c.name.into() })
            .collect(),
        ocr: Some(pb::OcrResult {
            model: ocr.model,
            text: ocr.text,
            lines: ocr
                .lines
                .into_iter()
                .map(|line| pb::TextLine {
                    text: line.text,
                    confidence: line.confidence,
                    r#box: line.corners.iter().map(|&[x, y]| pb::Point { x, y }).collect(),
                })
                .collect(),
            unavailable: ocr.unavailable,
        }),
        alt_text,
        warnings,
        cropped: cropped.map(|c| pb::CroppedImage {
            platform: c.platform,
            crop: Some(rect(c.crop)),
            image: c.bytes,
            content_type: c.content_type.into(),
        }),
    }
}

pub fn search_request(request: pb::SearchPostsRequest) -> SearchRequest {
    let (text, vector) = match request.query {
        Some(pb::search_posts_request::Query::Text(text)) => (Some(text), None),
        Some(pb::search_posts_request::Query::Vector(vector)) => (None, Some(vector.values)),
        None => (None, None),
    };
    SearchRequest {
        text,
        vector,
        account_id: non_empty(request.account_id),
        platform: non_empty(request.platform),
        since: request.since,
        until: request.until,
        k: (request.k != 0).then_some(request.k as usize),
    }
}

pub fn search_answer(answer: SearchAnswer) -> pb::SearchPostsResponse {
    pb::SearchPostsResponse {
        model: answer.model,
        indexing: answer.indexing,
        results: answer
            .results
            .into_iter()
            .map(|post| pb::SimilarPost {
                post_id: post.post_id,
                account_id: post.account_id,
                platform: post.platform,
                text: post.text,
                created_at: post.created_at,
                engagement: post.engagement,
                lift: post.lift,
                hashtags: post.hashtags,
                score: post.score,
            })
            .collect(),
    }
}

pub fn account_summary(summary: AccountSummary) -> pb::AccountSummary {
    let stats = summary.stats;
    pb::AccountSummary {
        account_id: stats.account_id,
        posts: stats.posts as u64,
        indexed_posts: summary.indexed_posts,
        first_post_at: stats.first_post_at,
        last_post_at: stats.last_post_at,
        platforms: stats.platforms,
    }
}

pub fn suggest_request(request: pb::SuggestHashtagsRequest) -> SuggestRequest {
    SuggestRequest {
        text: request.text,
        platform: non_empty(request.platform),
        account_id: non_empty(request.account_id),
        k: (request.k != 0).then_some(request.k as usize),
    }
}

pub fn suggestions(suggestions: Suggestions) -> pb::SuggestHashtagsResponse {
    pb::SuggestHashtagsResponse {
        hashtags: suggestions
            .hashtags
            .into_iter()
            .map(|s| pb::HashtagSuggestion {
                tag: s.tag,
                score: s.score,
                sources: s.sources.into_iter().map(String::from).collect(),
                posts: s.posts as u64,
                lift: s.lift,
            })
            .collect(),
        limit: suggestions.limit.map(|l| l as u32),
        history: suggestions.history.as_str().to_string(),
        notes: suggestions.notes,
    }
}

pub fn key_info(key: eiq_service::tenants::KeyInfo) -> pb::KeyInfo {
    pb::KeyInfo {
        prefix: key.prefix,
        role: key.role.as_str().to_string(),
        name: key.name,
        created_at: key.created_at,
        expires_at: key.expires_at,
        revoked_at: key.revoked_at,
    }
}

pub fn audit_event(r: eiq_service::audit::AuditRecord) -> pb::AuditEvent {
    pb::AuditEvent {
        seq: r.seq,
        at_ms: r.at_ms,
        actor: r.actor,
        auth_method: r.auth_method,
        role: r.role,
        event: r.event,
        resource: r.resource,
        action: r.action,
        outcome: r.outcome,
        source_ip: r.source_ip,
        user_agent: r.user_agent,
        details: r.details,
        prev_hash: r.prev_hash,
        hash: r.hash,
    }
}

pub fn usage_report(report: eiq_service::usage::UsageReport) -> pb::UsageReport {
    use eiq_service::usage::Metric;
    pb::UsageReport {
        api_calls: report.usage.count(Metric::ApiCalls),
        ai_generated_posts: report.usage.count(Metric::AiGeneratedPosts),
        published_posts: report.usage.count(Metric::PublishedPosts),
        period: report.usage.period,
        plan: report.plan.map(|p| p.as_str().to_string()).unwrap_or_default(),
        limits: report.limits.map(|l| pb::PlanLimits {
            users: l.users,
            accounts: l.accounts,
            posts_per_month: l.posts_per_month,
            ai_features: l.ai_features,
            sso: l.sso,
            retention_months: l.retention_months,
        }),
    }
}

pub fn new_post(request: pb::CreatePostRequest) -> eiq_service::publishing::NewPost {
    use eiq_service::publishing::{MediaRef, NewPost, PostContent};
    let media =
        request.media.into_iter().map(|m| MediaRef { reference: m.reference, kind: m.kind }).collect::<Vec<_>>();
    NewPost {
        content: PostContent { texts: request.texts.into_iter().collect(), accounts: request.accounts, media },
        scheduled_at: non_empty(request.scheduled_at),
    }
}

pub fn scheduled_post(post: eiq_service::publishing::Post) -> pb::ScheduledPost {
    pb::ScheduledPost {
        id: post.id,
        state: post.state.as_str().to_string(),
        texts: post.content.texts.into_iter().collect(),
        accounts: post.content.accounts,
        media: post.content.media.into_iter().map(|m| pb::MediaRef { reference: m.reference, kind: m.kind }).collect(),
        scheduled_at: post.scheduled_at,
        schedule: post.schedule,
        reasons_json: post.reasons.to_string(),
        created_by: post.created_by,
        created_at: post.created_at,
        updated_at: post.updated_at,
        deliveries: post
            .deliveries
            .into_iter()
            .map(|d| pb::Delivery {
                platform: d.platform,
                connector: d.connector,
                state: d.state,
                attempts: d.attempts,
                last_error: d.last_error,
                run_at: d.run_at,
                delivered_at: d.delivered_at,
            })
            .collect(),
    }
}

pub fn publishing_settings(settings: eiq_service::publishing::PublishingSettings) -> pb::PublishingSettings {
    pb::PublishingSettings {
        approval_required: settings.approval_required,
        outbox: settings.outbox,
        webhook_url: settings.webhook_url.unwrap_or_default(),
        webhook_secret_set: settings.webhook_secret_set,
    }
}
