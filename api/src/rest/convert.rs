//! The service layer's answers as REST bodies: every `From` impl of the REST API, written once.

use eiq_datasets::format_time;
use eiq_features::best_times::{BestTimes, Slot};
use eiq_service::captions::{CaptionVariant, Captions, Method, Origin};
use eiq_service::engagement::{ForecastAnswer, ImportReport, TimedForecast};
use eiq_service::hashtags::{Suggestion, Suggestions};
use eiq_service::images::{ImageAnalysis, Rect};
use eiq_service::index::{AccountSummary, SearchAnswer, SimilarPost};
use eiq_service::posts::{EffectiveRules, Length, PostCheck};
use eiq_service::text::{Analysis, GateVerdict, ModelSummary, Reason, Span};

use super::accounts::{
    AccountBody, BestTimesResponse, ForecastModelBody, ForecastResponse, SlotBody, TimedForecastBody,
};
use super::analyze::{AnalyzeResponse, AnalyzeResult, ModelInfo, SpanBody, TaskResult};
use super::captions::{CaptionVariantBody, CaptionsResponse, GateSummaryBody, UsageBody};
use super::gate::{GateResponse, ReasonBody};
use super::hashtags::{HashtagBody, SuggestResponse};
use super::history::{AccountImportBody, ImportResponse, RowErrorBody};
use super::images::{ColorBody, ImageAnalysisResponse, OcrBody, PlatformFitBody, QualityBody, RectBody, TextLineBody};
use super::models::ModelCard;
use super::posts::{CheckResponse, LengthBody, MediaKindBody, MediaRulesBody, PlatformBody, ViolationBody};
use super::search::{SearchResponse, SimilarPostBody};

impl From<Span> for SpanBody {
    fn from(span: Span) -> Self {
        Self { category: span.category.into(), start: span.start, end: span.end, text: span.text, entry: span.entry }
    }
}

impl From<Analysis> for AnalyzeResponse {
    fn from(analysis: Analysis) -> Self {
        let models = analysis
            .heads
            .iter()
            .map(|head| {
                let info = ModelInfo {
                    model: analysis.model.clone(),
                    version: analysis.model_version.clone(),
                    precision: analysis.precision.into(),
                    labels: head.labels.clone(),
                    method: head.method.clone(),
                    metric: head.metric.clone(),
                    validation: head.validation,
                };
                (head.task.clone(), info)
            })
            .collect();
        let results = analysis
            .results
            .into_iter()
            .map(|result| AnalyzeResult {
                tasks: result
                    .tasks
                    .into_iter()
                    .map(|t| (t.task, TaskResult { label: t.label, scores: t.scores.into_iter().collect() }))
                    .collect(),
                spans: result.spans.into_iter().map(SpanBody::from).collect(),
            })
            .collect();
        AnalyzeResponse { results, models }
    }
}

impl From<Reason> for ReasonBody {
    fn from(reason: Reason) -> Self {
        Self {
            category: reason.category,
            score: reason.score,
            threshold_crossed: reason.decision.as_str().into(),
            threshold: reason.threshold,
            model: reason.source,
            model_version: reason.source_version,
            detail: reason.detail,
        }
    }
}

impl From<GateVerdict> for GateResponse {
    fn from(verdict: GateVerdict) -> Self {
        Self {
            decision: verdict.decision.as_str().into(),
            policy: verdict.policy,
            platform: verdict.platform,
            reasons: verdict.reasons.into_iter().map(ReasonBody::from).collect(),
            spans: verdict.spans.into_iter().map(SpanBody::from).collect(),
            scores: verdict.scores,
        }
    }
}

impl From<ImportReport> for ImportResponse {
    fn from(report: ImportReport) -> Self {
        Self {
            imported: report.imported,
            skipped_reposts: report.skipped_reposts,
            errors: report.errors.into_iter().map(|e| RowErrorBody { row: e.row, reason: e.reason }).collect(),
            error_count: report.error_count,
            accounts: report
                .accounts
                .into_iter()
                .map(|a| AccountImportBody {
                    account_id: a.account_id,
                    added: a.added,
                    updated: a.updated,
                    total: a.total,
                })
                .collect(),
        }
    }
}

impl From<&TimedForecast> for TimedForecastBody {
    fn from(forecast: &TimedForecast) -> Self {
        TimedForecastBody {
            at: format_time(forecast.at),
            local_time: forecast.local_time.clone(),
            engagement: forecast.forecast.engagement,
            low: forecast.forecast.low,
            high: forecast.forecast.high,
            lift: forecast.lift,
        }
    }
}

impl From<ForecastAnswer> for ForecastResponse {
    fn from(answer: ForecastAnswer) -> Self {
        let evaluation = &answer.model.evaluation;
        let score = |method: &str| evaluation.score(method).cloned();
        let served = score(&evaluation.served);
        Self {
            best: (&answer.forecasts[answer.best]).into(),
            forecasts: answer.forecasts.iter().map(TimedForecastBody::from).collect(),
            model: ForecastModelBody {
                served: evaluation.served.clone(),
                trained_posts: evaluation.posts,
                held_out_spearman: served.as_ref().map_or(0.0, |s| s.spearman),
                held_out_mae: served.map_or(0.0, |s| s.mae),
                account_median_mae: score("account median").map_or(0.0, |s| s.mae),
            },
            account_id: answer.account_id,
            platform: answer.platform,
            timezone: answer.timezone,
        }
    }
}

impl From<&Slot> for SlotBody {
    fn from(slot: &Slot) -> Self {
        SlotBody {
            start: slot.label.clone(),
            start_minute: slot.start_minute,
            next_at: format_time(slot.next_at),
            expected_engagement: slot.expected_engagement,
            lift: slot.lift,
            lift_low: slot.lift_low,
            lift_high: slot.lift_high,
            posts: slot.posts,
            history_weight: slot.history_weight,
            blacked_out: slot.blacked_out,
        }
    }
}

/// A best-times answer, with every slot of the week when `include_grid`.
pub(super) fn best_times_response(best: BestTimes, include_grid: bool) -> BestTimesResponse {
    BestTimesResponse {
        top: best.top.iter().map(SlotBody::from).collect(),
        grid: include_grid.then(|| best.grid.iter().map(SlotBody::from).collect()),
        account_id: best.account_id,
        platform: best.platform,
        timezone: best.timezone,
        resolution_minutes: best.resolution_minutes,
        account_posts: best.account_posts,
    }
}

impl From<ModelSummary> for ModelCard {
    fn from(model: ModelSummary) -> Self {
        Self {
            id: model.id,
            object: "model".into(),
            owned_by: "elevatediq".into(),
            task: model.task.into(),
            backend: model.backend.into(),
            precision: model.precision.into(),
            dimensions: model.dimensions,
            max_sequence_length: model.max_sequence_length,
            licence: model.licence,
            upstream: model.upstream,
            state: model.state.to_string(),
        }
    }
}

impl From<Length> for LengthBody {
    fn from(length: Length) -> Self {
        Self { unit: length.unit.as_str().into(), used: length.used, limit: length.limit }
    }
}

impl From<PostCheck> for CheckResponse {
    fn from(check: PostCheck) -> Self {
        Self {
            platform: check.platform,
            length: check.length.into(),
            title: check.title.map(LengthBody::from),
            valid: check.valid,
            violations: check
                .violations
                .into_iter()
                .map(|v| ViolationBody { rule: v.rule.into(), message: v.message, limit: v.limit, actual: v.actual })
                .collect(),
            hashtags: check.hashtags,
            mentions: check.mentions,
            urls: check.urls,
        }
    }
}

impl From<EffectiveRules> for PlatformBody {
    fn from(effective: EffectiveRules) -> Self {
        let EffectiveRules { rules, overrides } = effective;
        let kinds = (rules.media.kinds())
            .map(|(kind, limits)| MediaKindBody {
                kind: kind.as_str().into(),
                max_items: limits.max_items,
                max_bytes: limits.max_bytes,
                min_duration_s: limits.min_duration_s,
                max_duration_s: limits.max_duration_s,
                min_aspect_ratio: limits.min_aspect_ratio,
                max_aspect_ratio: limits.max_aspect_ratio,
            })
            .collect();
        Self {
            overridden: overrides.overridden().into_iter().map(String::from).collect(),
            id: rules.id,
            name: rules.name,
            unit: rules.unit.as_str().into(),
            limit: rules.limit,
            url_length: rules.url_length,
            max_bytes: rules.max_bytes,
            title_limit: rules.title_limit,
            max_hashtags: rules.max_hashtags,
            max_mentions: rules.max_mentions,
            max_urls: rules.max_urls,
            hashtags_ignored_over: rules.hashtags_ignored_over,
            media: MediaRulesBody {
                min_items: rules.media.min_items,
                max_items: rules.media.max_items,
                mixed: rules.media.mixed,
                kinds,
                source: rules.media.source,
                as_of: rules.media.as_of,
            },
            source: rules.source,
            as_of: rules.as_of,
        }
    }
}

impl From<CaptionVariant> for CaptionVariantBody {
    fn from(variant: CaptionVariant) -> Self {
        let (origin, attempt) = match variant.origin {
            Origin::Generated { attempt } => ("generated", Some(attempt)),
            Origin::FittedDraft => ("fitted_draft", None),
        };
        Self {
            platform: variant.platform,
            text: variant.text,
            length: variant.length.into(),
            valid: variant.valid,
            hashtags: variant.hashtags,
            gate: GateSummaryBody {
                decision: variant.decision.as_str().into(),
                reasons: variant.reasons.into_iter().map(ReasonBody::from).collect(),
            },
            similarity: variant.similarity,
            origin: origin.into(),
            attempt,
            trimmed: variant.trimmed,
        }
    }
}

impl From<Captions> for CaptionsResponse {
    fn from(captions: Captions) -> Self {
        let (method, model, reason) = match captions.method {
            Method::Model { id } => ("model", Some(id), None),
            Method::Rules { reason } => ("rules", None, Some(reason)),
        };
        let usage = captions.usage;
        Self {
            method: method.into(),
            model,
            reason,
            variants: captions.variants.into_iter().map(CaptionVariantBody::from).collect(),
            usage: UsageBody {
                generations: usage.generations,
                prompt_tokens: usage.prompt_tokens,
                generated_tokens: usage.generated_tokens,
                prompt_seconds: usage.prompt_time.as_secs_f64(),
                generation_seconds: usage.generation_time.as_secs_f64(),
                first_token_seconds: usage.first_token_after.map(|d| d.as_secs_f64()),
            },
        }
    }
}

impl From<Rect> for RectBody {
    fn from(rect: Rect) -> Self {
        Self { x: rect.x, y: rect.y, width: rect.width, height: rect.height }
    }
}

impl From<ImageAnalysis> for ImageAnalysisResponse {
    fn from(analysis: ImageAnalysis) -> Self {
        let quality = analysis.quality;
        Self {
            image_id: analysis.image_id,
            width: analysis.width,
            height: analysis.height,
            format: analysis.format.into(),
            bytes: analysis.bytes,
            aspect_ratio: analysis.aspect_ratio,
            reoriented: analysis.reoriented,
            platform_fit: analysis
                .platform_fit
                .into_iter()
                .map(|fit| PlatformFitBody {
                    platform: fit.platform,
                    ok: fit.ok,
                    reason: fit.reason,
                    crop: fit.crop.into(),
                })
                .collect(),
            quality: QualityBody {
                brightness: quality.brightness,
                contrast: quality.contrast,
                sharpness: quality.sharpness,
                blurry: quality.blurry,
            },
            colors: analysis
                .colors
                .into_iter()
                .map(|c| ColorBody { hex: c.hex, share: c.share, name: c.name.into() })
                .collect(),
            ocr: OcrBody {
                model: analysis.ocr.model,
                text: analysis.ocr.text,
                lines: analysis
                    .ocr
                    .lines
                    .into_iter()
                    .map(|line| TextLineBody {
                        text: line.text,
                        confidence: line.confidence,
                        corners: line.corners.to_vec(),
                    })
                    .collect(),
                unavailable: analysis.ocr.unavailable,
            },
            alt_text: analysis.alt_text,
            warnings: analysis.warnings,
        }
    }
}

impl From<SimilarPost> for SimilarPostBody {
    fn from(post: SimilarPost) -> Self {
        Self {
            post_id: post.post_id,
            account_id: post.account_id,
            platform: post.platform,
            text: post.text,
            created_at: format_time(post.created_at),
            engagement: post.engagement,
            lift: post.lift,
            hashtags: post.hashtags,
            score: post.score,
        }
    }
}

impl From<SearchAnswer> for SearchResponse {
    fn from(answer: SearchAnswer) -> Self {
        Self {
            model: answer.model,
            results: answer.results.into_iter().map(SimilarPostBody::from).collect(),
            indexing: answer.indexing,
        }
    }
}

impl From<AccountSummary> for AccountBody {
    fn from(summary: AccountSummary) -> Self {
        let stats = summary.stats;
        Self {
            account_id: stats.account_id,
            posts: stats.posts,
            indexed_posts: summary.indexed_posts,
            first_post_at: format_time(stats.first_post_at),
            last_post_at: format_time(stats.last_post_at),
            platforms: stats.platforms,
        }
    }
}

impl From<Suggestion> for HashtagBody {
    fn from(s: Suggestion) -> Self {
        Self {
            tag: s.tag,
            score: s.score,
            sources: s.sources.into_iter().map(String::from).collect(),
            posts: s.posts,
            lift: s.lift,
        }
    }
}

impl From<Suggestions> for SuggestResponse {
    fn from(s: Suggestions) -> Self {
        Self {
            hashtags: s.hashtags.into_iter().map(HashtagBody::from).collect(),
            limit: s.limit,
            history: s.history.as_str().to_string(),
            notes: s.notes,
        }
    }
}
